// Interop fixture for botconnect's tests: offline-directline (npm, not ours) serving the client side of
// Direct Line 3.0 by polling, in front of a botbuilder echo bot. Both listen on 127.0.0.1 only.
//
//   node server.js <directline-port> <bot-port>      (or DIRECTLINE_PORT / BOT_PORT in the environment)
//
// Prints one line "READY directline=<url> bot=<url>" once both servers listen; exits when stdin closes, so it
// cannot outlive the test process that started it.
'use strict';

const express = require('express');
const directline = require('offline-directline');
const { BotFrameworkAdapter } = require('botbuilder');

const HOST = '127.0.0.1';

function port(value, name) {
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0 || number > 65535) {
        console.error(`server.js: ${name} must be a TCP port, got ${JSON.stringify(value)}`);
        process.exit(2);
    }
    return number;
}

const directLinePort = port(process.argv[2] || process.env.DIRECTLINE_PORT, 'directline port');
const botPort = port(process.argv[3] || process.env.BOT_PORT, 'bot port');
const directLineUrl = `http://${HOST}:${directLinePort}`;
const botUrl = `http://${HOST}:${botPort}/api/messages`;

// -- the bot: botbuilder 4.x, no app id/password (so no auth either way), replies "echo: <text>" --------------

const adapter = new BotFrameworkAdapter({ appId: '', appPassword: '' });
adapter.onTurnError = async (context, error) => {
    console.error(`bot: turn failed: ${error && error.stack ? error.stack : error}`);
};

const bot = express();
bot.use(express.json());
bot.post('/api/messages', (req, res) => {
    adapter.processActivity(req, res, async (context) => {
        if (context.activity.type === 'message') {
            await context.sendActivity(`echo: ${context.activity.text}`);
        }
    });
});

// -- offline-directline -------------------------------------------------------------------------------------
// Not initializeRoutes(): it listens on every interface (app.listen(port)) and hard-codes the service URL.
// getRouter() is the same routes, exported by the package; we mount it and listen on loopback ourselves.
//
// The package serves the client API at /directline/... (the "domain" WebChat/DirectLineJS are given), not at
// /v3/directline/... as Direct Line 3.0 does and as botconnect builds from its endpoint; mounting the router
// under /v3 as well puts the client routes where a real Direct Line service has them (the way a reverse proxy
// would). The root mount keeps the bot-facing Connector routes (/v3/conversations/...) at the serviceUrl the
// package stamps on activities. Mounted under /v3 first, so the package's own never-answering /v3/directline
// stubs (reconnect, upload, stream) still receive the requests they would without this alias.
const router = directline.getRouter(directLineUrl, botUrl, true);
const server = express();
server.use('/v3', router);
server.use(router);

// -- start both, on loopback only -----------------------------------------------------------------------------

function listen(app, portNumber) {
    return new Promise((resolve, reject) => {
        const listener = app.listen(portNumber, HOST, () => resolve(listener));
        listener.on('error', reject);
    });
}

Promise.all([listen(bot, botPort), listen(server, directLinePort)]).then(
    () => console.log(`READY directline=${directLineUrl} bot=${botUrl}`),
    (error) => {
        console.error(`server.js: cannot listen: ${error.message}`);
        process.exit(1);
    },
);

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
