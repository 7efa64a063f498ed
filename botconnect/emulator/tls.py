"""A throwaway certificate authority for ``Emulator(tls=True)``: azure-core refuses to send bearer tokens over
plain http, so Microsoft's SDKs reach the emulator only over https.

:func:`generate` makes a CA and a server certificate for ``localhost`` / ``127.0.0.1`` / ``::1`` (EC P-256, valid
for a day, generated at each start so no key outlives the process), and writes the server's key and chain to a
private temporary directory (uvicorn wants files); :meth:`TlsFiles.remove` deletes it. Clients trust
:attr:`TlsFiles.ca_pem` / :attr:`TlsFiles.ca_file` (``SSL_CERT_FILE``, or :meth:`TlsFiles.client_context`).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsFiles", "generate"]

_VALIDITY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class TlsFiles:
    """The CA (PEM, and a file holding it) and the server's key and certificate files, in one private directory."""

    ca_pem: str
    directory: Path

    @property
    def ca_file(self) -> str:
        return str(self.directory / "ca.pem")

    @property
    def certfile(self) -> str:
        return str(self.directory / "server.pem")

    @property
    def keyfile(self) -> str:
        return str(self.directory / "server.key")

    def client_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` trusting only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def generate(hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")) -> TlsFiles:
    """A new CA and a server certificate for ``hosts`` (DNS names or IP addresses), written to a 0700 temp dir."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "botconnect emulator throwaway CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode("ascii")
    files = TlsFiles(ca_pem=ca_pem, directory=Path(tempfile.mkdtemp(prefix="botconnect-emulator-tls-")))
    try:
        _write(files.ca_file, ca_pem.encode("ascii"))
        _write(files.certfile, server.public_bytes(serialization.Encoding.PEM) + ca_pem.encode("ascii"))
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(files.keyfile, key_pem)
    except BaseException:
        files.remove()
        raise
    return files


def _write(path: str, data: bytes) -> None:
    # the directory is already 0700 (mkdtemp); the key file is 0600 on its own too
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
