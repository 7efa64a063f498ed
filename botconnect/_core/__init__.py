"""Sans-IO core shared by the sync and async façades: never sleeps, never opens a socket."""
