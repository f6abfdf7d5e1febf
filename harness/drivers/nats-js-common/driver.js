// The body of the natsmock drivers for nats.js v2 (../nats-js, the `nats`
// package) and nats.js v3 (../nats-js-v3, @nats-io/transport-node): command
// dispatch, batch and on_msg, events and results. What differs between the
// two library generations (connect, the status stream, error codes, features,
// subscription limits) comes from the driver file that calls run(); that file
// also loads its library from its own folder's node_modules, so nothing here
// requires anything but Node's own modules.
//
// Speaks DRIVER-PROTOCOL.md version 2: JSON commands on stdin, one per line;
// JSON events on stdout, one per line; free-form log on stderr. Every
// command starts at once (an async task of its own) and ends with exactly one
// ok/err line; nothing here waits for an earlier command to finish.
//
// Reporting (DRIVER-PROTOCOL.md, "Reporting"): every result is written in the
// continuation attached directly to the library's own promise (replier.wait:
// `libraryPromise.then(write)`), never after an extra hop such as an async
// wrapper's return, Promise.race or a `.finally`; a driver timer is a plain
// timer that writes the err itself. Message events are written in the
// iterator step (or callback) that received them; handler actions (on_msg)
// run in that same step, and a flush or request there is awaited before the
// step ends, so its result comes before the next message is reported.
//
// The library is used as its README teaches: `connect()`, `publish()`,
// `subscribe()` consumed with `for await` (or with the `callback` option when
// the command says "mode":"callback"), `flush()`, `sub.drain()`,
// `nc.drain()`, `request()`, `close()`, and `nc.status()` / `nc.closed()`
// for the connection's events.
"use strict";

// The driver's adapter (run's argument):
//   label            "nats.js v2": in log and error texts
//   logTag           "nats-js": the stderr log's prefix
//   version          the library's version, for hello
//   features         the DRIVER-PROTOCOL.md features it has, in hello's order
//   connect(opts)    the library's connect
//   headers()        the library's headers() (a new header set)
//   errCode(e)       a library (or driverError) error -> the protocol's code
//   watch(conn, ctx) reports the connection's statuses and its close with
//                    ctx.event; ctx has event, errCode, errText, log and
//                    tagOf(sub) (the harness tag of a Subscription)
//   subscribeOptions(cmd, mode)
//                    the library's subscribe options for the pending limits
//                    (throws driverError not_supported when it has none)
let lib = null;

// --version and --help answer before the library loads (so they work where
// `npm ci` has not been run yet): the driver file calls this first. self: its
// package.json; libVersion(): the installed library's version (throws when
// it is not installed).
function answerArgs(self, label, libVersion) {
  const args = process.argv.slice(2);
  const usage =
    `usage: ${self.name} [--version | --help]\n` +
    `The natsmock driver for ${label}: JSON commands on stdin, events on stdout,\n` +
    "one per line (docs/DRIVER-PROTOCOL.md). stdin may be a pipe, a terminal\n" +
    "or a file.\n";
  if (args.length === 1 && args[0] === "--version") {
    let v = "not installed: run npm ci in this folder";
    try {
      v = libVersion();
    } catch (e) {
      // reported in the version line
    }
    process.stdout.write(`${self.name} ${self.version} (${label} ${v})\n`);
    process.exit(0);
  }
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    process.stdout.write(usage);
    process.exit(0);
  }
  if (args.length > 0) {
    process.stderr.write(`${self.name}: unknown argument ${args[0]}\n${usage}`);
    process.exit(2);
  }
}

const PROTOCOL = 2;
// Named limits: nothing the harness sends may grow memory without bound.
const MAX_LINE = 1 << 20; // one command line, bytes
const MAX_COUNT = 10000000; // messages in one publish command
const MAX_SIZE = 64 << 20; // bytes of one generated payload
const MAX_TEXT = 256; // payload bytes echoed as text in a msg event
const EXIT_CLOSE_MS = 2000; // bound on closing the connection at exit
const EOF_WAIT_MS = 2000; // bound on in-flight commands at end of stdin

let t0 = process.hrtime.bigint(); // reset by run()
const nowUs = () => Number((process.hrtime.bigint() - t0) / 1000n);
const log = (...a) => process.stderr.write(`[${lib.logTag} ${nowUs()}] ${a.join(" ")}\n`);

// stdout to a pipe is synchronous in Node on Linux, so one write() per line
// keeps lines whole and in order, and each is flushed when write() returns.
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
function event(ev, fields) {
  emit(Object.assign({ ev }, fields, { t: nowUs() }));
}

let nc = null; // the latest NatsConnection, once a connect succeeded
let ncPromise = null; // the latest connect's promise, pending or settled
let drainTimeoutMs = 0; // from connect's drain_timeout_ms; 0 = none
// connect promise -> its connection once settled: a command (a batch entry, a
// handler action) on a known connection calls the library without an await.
const settledConns = new WeakMap();
const subs = new Map(); // harness tag -> Subscription
const subTags = new Map(); // Subscription -> harness tag (ctx.tagOf)

// ---------------------------------------------------------------- errors

// Maps a library error onto the protocol's error codes (the adapter's).
function errCode(e) {
  return lib.errCode(e);
}
function errText(e) {
  if (!e) return "unknown error";
  return String(e.message || e);
}
// An error raised by the driver itself, with its protocol code.
function driverError(code, text) {
  const e = new Error(text);
  e.driverCode = code;
  return e;
}

// One command's single result line. wait(p, ...) settles the command in the
// continuation attached directly to the library's promise p; with ms > 0 a
// driver timer races it (the library has no timeout for it: the text says
// the timer gave up, and the library call is left running). `done` resolves
// once the line is written (a handler action awaits it).
function replier(id) {
  let settled = false;
  let resolveDone;
  const done = new Promise((res) => { resolveDone = res; });
  inflight++;
  const finish = (line) => {
    if (settled) return;
    settled = true;
    emit(line);
    resolveDone();
    if (--inflight === 0 && onIdle) onIdle();
  };
  const r = {
    done,
    ok(fields) {
      finish(Object.assign({ id, ev: "ok" }, fields || {}));
    },
    err(e) {
      const line = { id, ev: "err", code: errCode(e), error: errText(e) };
      if (e && e.published !== undefined) line.published = e.published;
      finish(line);
    },
    wait(p, ms, what, map) {
      let timer = null;
      if (ms > 0) {
        timer = setTimeout(() => r.err(driverError("timeout", `${what} did not complete within ${ms} ms (driver timer; nats.js has no timeout for it)`)), ms);
      }
      p.then((v) => {
        if (timer) clearTimeout(timer);
        r.ok(map ? map(v) : {});
      }, (e) => {
        if (timer) clearTimeout(timer);
        r.err(e);
      });
    },
  };
  return r;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- payloads

const utf8 = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

// The k-th sequenced payload: decimal k, padded with '.' up to size bytes.
function seqPayload(k, size) {
  let s = String(k);
  if (size > s.length) s += ".".repeat(size - s.length);
  return enc.encode(s);
}
// The number at the start of a payload, when it starts with digits.
function readSeq(data) {
  let n = 0;
  let i = 0;
  while (i < data.length && i < 15 && data[i] >= 48 && data[i] <= 57) {
    n = n * 10 + (data[i] - 48);
    i++;
  }
  return i > 0 ? n : undefined;
}
// Adds data or data_b64 to obj: text when the bytes are UTF-8.
function putData(obj, data, limit) {
  if (data.length > limit) return;
  try {
    obj.data = utf8.decode(data);
  } catch (_) {
    obj.data_b64 = Buffer.from(data).toString("base64");
  }
}
function cmdData(cmd) {
  if (typeof cmd.data === "string") return enc.encode(cmd.data);
  if (typeof cmd.data_b64 === "string") return new Uint8Array(Buffer.from(cmd.data_b64, "base64"));
  return null;
}
function cmdHeaders(cmd) {
  if (!cmd.headers || typeof cmd.headers !== "object") return undefined;
  const h = lib.headers();
  for (const [k, vals] of Object.entries(cmd.headers)) {
    for (const v of Array.isArray(vals) ? vals : [vals]) h.append(k, String(v));
  }
  return h;
}
function hdrsObj(h) {
  if (!h) return undefined;
  const out = {};
  for (const k of h.keys()) out[k] = h.values(k);
  return Object.keys(out).length ? out : undefined;
}

// ---------------------------------------------------------------- events

function msgEvent(tag, m) {
  const e = { sub: tag, subject: m.subject };
  if (m.reply) e.reply = m.reply;
  e.size = m.data.length;
  const seq = readSeq(m.data);
  if (seq !== undefined) e.seq = seq;
  putData(e, m.data, MAX_TEXT);
  const h = hdrsObj(m.headers);
  if (h) e.headers = h;
  event("msg", e);
  return seq;
}

// Reports one connection's statuses and its close (the adapter's).
function watch(conn) {
  lib.watch(conn, { event, errCode, errText, log, tagOf: (sub) => subTags.get(sub) });
}

// ---------------------------------------------------------------- commands

// The connection of the latest connect command received before this
// command (captured when the command starts, so a later connect cannot
// change which connection an earlier command works on).
async function needConn(connP) {
  if (connP && settledConns.has(connP)) return settledConns.get(connP);
  if (!connP) throw driverError("closed", "not connected: no connect command was given");
  try {
    return await connP;
  } catch (_) {
    throw driverError("closed", "not connected: the connect command failed");
  }
}

function subTag(cmd) {
  const s = subs.get(cmd.sub);
  if (!s) throw driverError("bad_command", `unknown sub ${JSON.stringify(cmd.sub)}`);
  return s;
}

const ops = {
  async connect(cmd, connP, r) {
    const o = { servers: cmd.servers };
    if (cmd.name !== undefined) o.name = cmd.name;
    if (cmd.user !== undefined) o.user = cmd.user;
    if (cmd.pass !== undefined) o.pass = cmd.pass;
    if (cmd.token !== undefined) o.token = cmd.token;
    if (cmd.verbose !== undefined) o.verbose = !!cmd.verbose;
    if (cmd.pedantic !== undefined) o.pedantic = !!cmd.pedantic;
    if (cmd.echo === false) o.noEcho = true;
    if (cmd.timeout_ms !== undefined) o.timeout = cmd.timeout_ms;
    if (cmd.reconnect !== undefined) o.reconnect = !!cmd.reconnect;
    if (cmd.max_reconnect !== undefined) o.maxReconnectAttempts = cmd.max_reconnect;
    if (cmd.reconnect_wait_ms !== undefined) o.reconnectTimeWait = cmd.reconnect_wait_ms;
    if (cmd.reconnect_jitter_ms !== undefined) {
      o.reconnectJitter = cmd.reconnect_jitter_ms;
      o.reconnectJitterTLS = cmd.reconnect_jitter_ms;
    }
    if (cmd.ping_interval_ms !== undefined) o.pingInterval = cmd.ping_interval_ms;
    if (cmd.max_pings_out !== undefined) o.maxPingOut = cmd.max_pings_out;
    if (cmd.no_randomize !== undefined) o.noRandomize = !!cmd.no_randomize;
    if (cmd.reconnect_buf_bytes !== undefined) log(`reconnect_buf_bytes ignored: ${lib.label} has no such option`);
    drainTimeoutMs = cmd.drain_timeout_ms > 0 ? cmd.drain_timeout_ms : 0;
    const p = lib.connect(o);
    ncPromise = p;
    const conn = await p;
    if (ncPromise === p) nc = conn; // a later connect command may have won
    settledConns.set(p, conn);
    watch(conn);
    // nats.js has no connected callback: the resolved connect() is the
    // library's report, so the event goes out just before the ok.
    event("connected", {});
    r.ok({});
  },

  async publish(cmd, connP, r) {
    const conn = settledConns.get(connP) || await needConn(connP);
    const count = cmd.count === undefined ? 1 : cmd.count;
    const size = cmd.size === undefined ? 0 : cmd.size;
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw driverError("bad_command", `count out of range 1..${MAX_COUNT}`);
    if (!Number.isInteger(size) || size < 0 || size > MAX_SIZE) throw driverError("bad_command", `size out of range 0..${MAX_SIZE}`);
    const fixed = cmdData(cmd);
    const opts = {};
    if (cmd.reply) opts.reply = cmd.reply;
    const h = cmdHeaders(cmd);
    let published = 0;
    try {
      for (let k = 1; k <= count; k++) {
        // The library keeps the options object; give each call its own.
        const po = Object.assign({}, opts);
        if (h) po.headers = h;
        conn.publish(cmd.subject, fixed || seqPayload(k, size), po);
        published++;
      }
    } catch (e) {
      e.published = published;
      throw e;
    }
    r.ok({});
  },

  async subscribe(cmd, connP, r) {
    const conn = settledConns.get(connP) || await needConn(connP);
    const tag = cmd.sub;
    const delay = cmd.delay_ms > 0 ? cmd.delay_ms : 0;
    const mode = cmd.mode === undefined ? "iterator" : cmd.mode;
    if (mode !== "iterator" && mode !== "callback") throw driverError("bad_command", `mode must be "iterator" or "callback"`);
    const opts = lib.subscribeOptions(cmd, mode);
    if (cmd.queue) opts.queue = cmd.queue;
    if (cmd.max > 0) opts.max = cmd.max;
    const reply = typeof cmd.reply_with === "string" ? cmd.reply_with : null;

    // The user's handler: report the message, make the on_msg actions due
    // (protocol 2), take delay_ms, answer.
    const actions = Array.isArray(cmd.on_msg) ? cmd.on_msg : null;
    let nmsgs = 0;
    const handle = async (m) => {
      const seq = msgEvent(tag, m);
      if (actions) await runActions(tag, ++nmsgs, actions, connP);
      if (delay > 0) await sleep(delay);
      if (reply !== null && m.reply) {
        try {
          m.respond(reply);
        } catch (e) {
          event("error", { code: errCode(e), error: errText(e), sub: tag });
        }
      }
      if (delay > 0) event("msg_done", seq === undefined ? { sub: tag } : { sub: tag, seq });
    };

    if (mode === "callback") {
      // nats.js calls the callback synchronously and does not await what it
      // returns, so a slow async handler is chained: later messages queue
      // behind it, as in a user's code that keeps its handler serial.
      let chain = Promise.resolve();
      opts.callback = (err, m) => {
        if (err) {
          event("error", { code: errCode(err), error: errText(err), sub: tag });
          return;
        }
        if (delay === 0 && !actions) {
          handle(m);
          return;
        }
        chain = chain.then(() => handle(m));
      };
    }
    const sub = conn.subscribe(cmd.subject, opts);
    subs.set(tag, sub);
    subTags.set(sub, tag);
    if (mode === "iterator") {
      (async () => {
        for await (const m of sub) await handle(m);
      })().catch((e) => event("error", { code: errCode(e), error: errText(e), sub: tag }));
    }
    r.ok({});
  },

  async unsubscribe(cmd, connP, r) {
    if (!settledConns.has(connP)) await needConn(connP);
    const sub = subTag(cmd);
    sub.unsubscribe(cmd.max > 0 ? cmd.max : undefined);
    r.ok({});
  },

  async flush(cmd, connP, r) {
    const conn = settledConns.get(connP) || await needConn(connP);
    r.wait(conn.flush(), cmd.timeout_ms, "flush");
  },

  async drain_sub(cmd, connP, r) {
    if (!settledConns.has(connP)) await needConn(connP);
    const sub = subTag(cmd);
    r.wait(sub.drain(), cmd.timeout_ms, "drain_sub");
  },

  async drain(cmd, connP, r) {
    const conn = settledConns.get(connP) || await needConn(connP);
    const ms = cmd.timeout_ms > 0 ? cmd.timeout_ms : drainTimeoutMs;
    r.wait(conn.drain(), ms, "drain");
  },

  async request(cmd, connP, r) {
    const conn = settledConns.get(connP) || await needConn(connP);
    const opts = {};
    if (cmd.timeout_ms > 0) opts.timeout = cmd.timeout_ms;
    const h = cmdHeaders(cmd);
    if (h) opts.headers = h;
    // Without data a request carries the first sequenced payload, as publish.
    const size = Number.isInteger(cmd.size) && cmd.size > 0 && cmd.size <= MAX_SIZE ? cmd.size : 0;
    r.wait(conn.request(cmd.subject, cmdData(cmd) || seqPayload(1, size), opts), 0, "request", (m) => {
      const out = {};
      putData(out, m.data, Infinity);
      const mh = hdrsObj(m.headers);
      if (mh) out.headers = mh;
      return out;
    });
  },

  async close(cmd, connP, r) {
    const conn = settledConns.get(connP) || await needConn(connP);
    r.wait(conn.close(), 0, "close");
  },

  // Protocol 2: every entry starts now, in order, in this one turn (on a
  // known connection no entry awaits before its library call); each ends
  // with its own line.
  async batch(cmd, connP, r) {
    if (!Array.isArray(cmd.commands)) throw driverError("bad_command", "batch needs commands");
    for (const c of cmd.commands) {
      if (!c || !Number.isInteger(c.id) || typeof c.op !== "string" || c.op === "batch" || c.op === "exit") {
        const line = { ev: "err", code: "bad_command", error: "a batch entry needs an id and an op (not batch or exit)" };
        if (c && Number.isInteger(c.id)) line.id = c.id;
        emit(line);
        continue;
      }
      start(c, connP);
    }
    r.ok({});
  },

  // Protocol 2: what the library knows, as state.
  async info(cmd, connP, r) {
    const conn = connP ? settledConns.get(connP) : null;
    if (!conn) {
      r.ok({ status: "closed" });
      return;
    }
    const out = { status: conn.isClosed() ? "closed" : conn.isDraining() ? "draining" : "connected" };
    try {
      const srv = conn.getServer && conn.getServer();
      if (srv) out.connected_url = String(srv);
    } catch (_) { /* not exposed */ }
    try {
      const st = conn.stats && conn.stats();
      if (st && st.reconnects !== undefined) out.reconnects = st.reconnects;
    } catch (_) { /* not exposed */ }
    if (conn.info && conn.info.max_payload !== undefined) out.max_payload = conn.info.max_payload;
    const list = [];
    for (const [tag, sub] of subs) {
      const x = { sub: tag, valid: !sub.isClosed() };
      if (sub.getProcessed) x.delivered = sub.getProcessed();
      if (sub.getPending) x.pending_msgs = sub.getPending();
      list.push(x);
    }
    out.subs = list;
    r.ok(out);
  },
};

// Protocol 2: the on_msg actions due at the handler's k-th message, made in
// this iterator step (or callback). A flush or request is awaited here, so the
// step ends after its result line; the others settle on their own.
async function runActions(tag, k, actions, connP) {
  for (const a of actions) {
    if (a.at !== k || !Number.isInteger(a.id) || typeof a.op !== "string") continue;
    event("action", { id: a.id, sub: tag, at: k });
    if (!["publish", "request", "flush", "unsubscribe", "drain_sub", "drain", "close"].includes(a.op)) {
      emit({ id: a.id, ev: "err", code: "bad_command", error: `${a.op} is not a handler action` });
      continue;
    }
    const r = replier(a.id);
    ops[a.op](a, connP, r).catch((e) => r.err(e));
    if (a.op === "flush" || a.op === "request") await r.done;
  }
}

// Starts one command; it ends with its single ok/err line (written by the
// op itself, from the library's continuation). connP: the connection a batch
// entry works on (else the latest connect's).
function start(cmd, connP) {
  const id = cmd.id;
  if (cmd.op === "exit") {
    emit({ id, ev: "ok" });
    shutdown();
    return;
  }
  const fn = Object.prototype.hasOwnProperty.call(ops, cmd.op) ? ops[cmd.op] : null;
  if (!fn) {
    emit({ id, ev: "err", code: "bad_command", error: `unknown op ${JSON.stringify(cmd.op)}` });
    return;
  }
  const r = replier(id);
  fn(cmd, connP === undefined ? ncPromise : connP, r).catch((e) => r.err(e));
}

function onLine(line) {
  if (line.trim() === "") return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    emit({ ev: "err", code: "bad_command", error: `not JSON: ${e.message}` });
    return;
  }
  if (!cmd || typeof cmd !== "object" || !Number.isInteger(cmd.id) || typeof cmd.op !== "string") {
    const r = { ev: "err", code: "bad_command", error: "a command needs an integer id and an op" };
    if (cmd && Number.isInteger(cmd.id)) r.id = cmd.id;
    emit(r);
    return;
  }
  start(cmd);
}

// ---------------------------------------------------------------- main

let exiting = false;
let inflight = 0; // commands that have not replied yet
let onIdle = null; // called when inflight drops to 0
// Closes the connection (bounded) and exits 0.
function shutdown() {
  if (exiting) return;
  exiting = true;
  // Exit from a later macrotask, so the closed event (printed from a
  // setImmediate or a promise chain) goes out first.
  const done = () => setImmediate(() => process.exit(0));
  setTimeout(() => process.exit(0), EXIT_CLOSE_MS).unref();
  if (nc && !nc.isClosed()) nc.close().then(done, done);
  else done();
}

// Runs the driver with the given adapter: hello, then commands from stdin
// until "exit" or the end of input.
function run(adapter) {
  lib = adapter;
  t0 = process.hrtime.bigint();
  emit({
    ev: "hello", protocol: PROTOCOL, client: "nats.js", version: lib.version,
    features: lib.features, subscribe: "iterator", subscribe_modes: ["iterator", "callback"],
  });
  readCommands();
  process.on("unhandledRejection", (e) => log("unhandled rejection:", errText(e)));
}

// A line splitter with a bound: an over-long line is dropped, not buffered.
let pending = "";
let skipping = false;
function readCommands() {
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    let start_ = 0;
    for (;;) {
      const nl = chunk.indexOf("\n", start_);
      if (nl < 0) break;
      const piece = chunk.slice(start_, nl);
      start_ = nl + 1;
      if (skipping) {
        skipping = false;
        pending = "";
        continue;
      }
      const line = pending + piece;
      pending = "";
      onLine(line);
    }
    if (!skipping) {
      pending += chunk.slice(start_);
      if (pending.length > MAX_LINE) {
        emit({ ev: "err", code: "bad_command", error: `line longer than ${MAX_LINE} bytes` });
        pending = "";
        skipping = true;
      }
    }
  });
  // End of input: let the commands already started reply (bounded), then
  // close and exit.
  process.stdin.on("end", () => {
    if (pending.trim() !== "" && !skipping) onLine(pending);
    if (inflight === 0) {
      shutdown();
      return;
    }
    onIdle = shutdown;
    setTimeout(() => {
      log(`end of stdin: ${inflight} commands still running after ${EOF_WAIT_MS} ms; exiting`);
      shutdown();
    }, EOF_WAIT_MS);
  });
}

module.exports = { answerArgs, driverError, errText, run };
