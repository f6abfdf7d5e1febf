#!/usr/bin/env node
// Tests a natsmock driver (DRIVER-PROTOCOL.md v1) against a real nats-server:
//
//   node driver-test.js [--server nats-server] -- DRIVER-COMMAND [ARGS...]
//
// Starts nats-server on an ephemeral loopback port (-p -1, port read back
// from --ports_file_dir), runs the driver, plays the protocol's example and
// then every command, and checks each reply and event. Every wait has its
// own deadline and the whole run has one; exit status 0 = all checks passed,
// 1 = a check failed, 2 = usage or set-up error. No dependencies but Node.
// It skips what the driver's hello does not list as a feature.
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const STEP_MS = 5000; // default deadline of one wait
const RUN_MS = 90000; // the whole run
const SERVER_START_MS = 5000;
const EXIT_MS = 5000; // a driver must exit this soon after exit / EOF
const MAX_EVENTS = 100000; // events kept per driver

let failures = 0;
let checks = 0;
function ok(cond, what) {
  checks++;
  if (cond) {
    process.stdout.write(`ok   ${what}\n`);
  } else {
    failures++;
    process.stdout.write(`FAIL ${what}\n`);
  }
  return cond;
}
function die(code, msg) {
  process.stderr.write(`driver-test: ${msg}\n`);
  cleanup();
  process.exit(code);
}

// ---------------------------------------------------------------- servers

const servers = [];
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "nm-driver-test-"));
let serverCmd = "nats-server";

// Starts nats-server on port (-1: an ephemeral one) and resolves with its URL;
// `server.last` is the process.
function startServer(extra, port = -1) {
  const dir = fs.mkdtempSync(path.join(tmpRoot, "srv-"));
  const p = spawn(serverCmd, [...extra, "-a", "127.0.0.1", "-p", String(port), "--ports_file_dir", dir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  startServer.last = p;
  let log = "";
  p.stderr.on("data", (d) => {
    if (log.length < 65536) log += d;
  });
  servers.push(p);
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`nats-server did not write its ports file within ${SERVER_START_MS} ms: ${log}`));
    }, SERVER_START_MS);
    // The ports file appears once the listener is up; there is no event to
    // await from another process, so poll the folder briefly.
    const poll = setInterval(() => {
      const f = fs.readdirSync(dir).find((n) => n.endsWith(".ports"));
      if (!f) return;
      let ports;
      try {
        ports = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
      } catch (_) {
        return; // half written
      }
      clearInterval(poll);
      clearTimeout(deadline);
      resolve(ports.nats[0]);
    }, 20);
    p.on("exit", (code) => {
      clearInterval(poll);
      clearTimeout(deadline);
      reject(new Error(`nats-server exited with ${code}: ${log}`));
    });
  });
}

// ---------------------------------------------------------------- drivers

const drivers = [];

class Driver {
  constructor(argv, name) {
    this.name = name;
    this.events = [];
    this.waiters = [];
    this.nextId = 1;
    this.exited = null;
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    drivers.push(this);
    this.stderr = "";
    this.proc.stderr.on("data", (d) => {
      if (this.stderr.length < 65536) this.stderr += d;
    });
    let buf = "";
    this.proc.stdout.setEncoding("utf8");
    this.proc.stdout.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    this.exitPromise = new Promise((resolve) => {
      this.proc.on("exit", (code, sig) => {
        this.exited = { code, sig };
        resolve(this.exited);
        this.wake();
      });
    });
    this.proc.stdin.on("error", () => {});
  }

  onLine(line) {
    let e;
    try {
      e = JSON.parse(line);
    } catch (_) {
      ok(false, `${this.name}: stdout line is JSON: ${line.slice(0, 200)}`);
      return;
    }
    if (process.env.NM_DRIVER_TEST_VERBOSE) process.stdout.write(`  ${this.name} < ${line}\n`);
    if (this.events.length < MAX_EVENTS) this.events.push(e);
    this.wake();
  }

  wake() {
    for (const w of this.waiters.slice()) w();
  }

  send(op, fields) {
    const cmd = Object.assign({ id: this.nextId++, op }, fields || {});
    if (process.env.NM_DRIVER_TEST_VERBOSE) process.stdout.write(`  ${this.name} > ${JSON.stringify(cmd)}\n`);
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    return cmd.id;
  }

  // Resolves with the first event (from index `from`) matching pred, or
  // null when ms pass first or the driver exits.
  waitFor(pred, ms = STEP_MS, from = 0) {
    return new Promise((resolve) => {
      const check = () => {
        for (let i = from; i < this.events.length; i++) {
          if (pred(this.events[i])) return this.events[i];
        }
        return null;
      };
      let w;
      const done = (v) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(v);
      };
      const timer = setTimeout(() => done(null), ms);
      w = () => {
        const e = check();
        if (e) done(e);
        else if (this.exited) done(null);
      };
      this.waiters.push(w);
      w();
    });
  }

  reply(id, ms) {
    return this.waitFor((e) => e.id === id && (e.ev === "ok" || e.ev === "err"), ms);
  }

  count(pred) {
    return this.events.filter(pred).length;
  }

  async run(op, fields, ms) {
    return this.reply(this.send(op, fields), ms);
  }
}

// ---------------------------------------------------------------- checks

const isOk = (r) => r && r.ev === "ok";
const isErr = (r, code) => r && r.ev === "err" && (code === undefined || r.code === code);
const msgOf = (sub) => (e) => e.ev === "msg" && e.sub === sub;
const show = (r) => (r ? JSON.stringify(r) : "no reply");

async function hello(d) {
  const h = await d.waitFor((e) => e.ev === "hello");
  ok(h && d.events[0] === h, `${d.name}: hello is the first line`);
  if (!h) die(1, `${d.name}: no hello; stderr: ${d.stderr}`);
  ok(h.protocol === 1 || h.protocol === 2, `${d.name}: hello protocol 1 or 2`);
  ok(typeof h.client === "string" && typeof h.version === "string", `${d.name}: hello client ${h.client} ${h.version}`);
  ok(Array.isArray(h.features), `${d.name}: hello features ${JSON.stringify(h.features)}`);
  return new Set(h.features || []);
}

async function exitsWithin(d, what) {
  const r = await Promise.race([d.exitPromise, new Promise((res) => setTimeout(() => res(null), EXIT_MS))]);
  ok(r && r.code === 0, `${d.name}: exits 0 after ${what} (${JSON.stringify(r)})`);
}

function checkT(d) {
  const unsolicited = d.events.filter((e) => e.id === undefined && e.ev !== "hello");
  ok(unsolicited.length > 0 && unsolicited.every((e) => e.t === undefined || Number.isInteger(e.t)),
    `${d.name}: every t is an integer`);
  let mono = true;
  let last = -1;
  for (const e of unsolicited) {
    if (e.t === undefined) continue;
    if (e.t < last) mono = false;
    last = e.t;
  }
  ok(mono, `${d.name}: t never goes backwards`);
  // A result is an ok or err line; an on_msg action's "action" event carries
  // the id its result will have (DRIVER-PROTOCOL.md, handler actions).
  const ids = d.events.filter((e) => e.id !== undefined && (e.ev === "ok" || e.ev === "err")).map((e) => e.id);
  ok(new Set(ids).size === ids.length, `${d.name}: each command has exactly one reply`);
}

// The example of DRIVER-PROTOCOL.md, then every command on one connection.
async function mainRun(url, argv) {
  const d = new Driver(argv, "main");
  const f = await hello(d);

  // The example: three commands sent together, replies in order.
  const c1 = d.send("connect", { servers: [url], name: "driver-test", timeout_ms: 2000,
    reconnect: true, max_reconnect: 5, reconnect_wait_ms: 100, reconnect_jitter_ms: 10,
    ping_interval_ms: 60000, max_pings_out: 2, no_randomize: true, echo: true });
  const c2 = d.send("subscribe", { sub: "s", subject: "work", delay_ms: 20 });
  const c3 = d.send("flush", { timeout_ms: 1000 });
  const [r1, r2, r3] = [await d.reply(c1), await d.reply(c2), await d.reply(c3)];
  ok(isOk(r1), `example: connect ok (${show(r1)})`);
  ok(isOk(r2), `example: subscribe ok (${show(r2)})`);
  ok(isOk(r3), `example: flush ok (${show(r3)})`);
  if (!isOk(r1)) die(1, `connect failed; driver stderr: ${d.stderr}`);
  ok(isOk(await d.run("publish", { subject: "work" })), "example: publish one sequenced message");
  ok(isOk(await d.run("flush", { timeout_ms: 2000 })), "example: flush after publish");
  const r4 = await d.run("drain_sub", { sub: "s", timeout_ms: 2000 });
  ok(isOk(r4), `example: drain_sub ok (${show(r4)})`);
  const m = await d.waitFor(msgOf("s"));
  ok(m && m.subject === "work" && m.size === 1 && m.seq === 1 && m.data === "1", `example: msg ${show(m)}`);
  const md = await d.waitFor((e) => e.ev === "msg_done" && e.sub === "s");
  ok(md && md.seq === 1, `example: msg_done ${show(md)}`);
  ok(md && d.events.indexOf(m) < d.events.indexOf(md), "example: msg before msg_done");
  ok(md && md.t - m.t >= 19000, `example: the handler really took delay_ms (${md && md.t - m.t} us)`);

  // publish: sequenced payloads, text, base64, headers, reply.
  ok(isOk(await d.run("subscribe", { sub: "p", subject: "pub.>" })), "subscribe pub.>");
  ok(isOk(await d.run("flush", { timeout_ms: 2000 })), "flush after subscribe");
  ok(isOk(await d.run("publish", { subject: "pub.seq", count: 5, size: 10 })), "publish count 5 size 10");
  ok(isOk(await d.run("publish", { subject: "pub.text", data: "hello" })), "publish data");
  ok(isOk(await d.run("publish", { subject: "pub.bin", data_b64: "/wA=" })), "publish data_b64");
  ok(isOk(await d.run("publish", { subject: "pub.reply", reply: "the.reply", data: "r" })), "publish reply");
  if (f.has("headers")) {
    ok(isOk(await d.run("publish", { subject: "pub.hdr", data: "h", headers: { "X-A": ["1", "2"], "X-B": ["b"] } })),
      "publish headers");
  }
  ok(isOk(await d.run("flush", { timeout_ms: 2000 })), "flush after publishes");
  const want = 8 + (f.has("headers") ? 1 : 0);
  await d.waitFor(() => d.count(msgOf("p")) >= want);
  const pm = d.events.filter(msgOf("p"));
  const seqs = pm.filter((e) => e.subject === "pub.seq");
  ok(seqs.length === 5 && seqs.every((e, i) => e.seq === i + 1 && e.size === 10 && e.data === `${i + 1}.........`),
    `sequenced payloads 1..5 padded to 10 (${JSON.stringify(seqs.map((e) => e.data))})`);
  const txt = pm.find((e) => e.subject === "pub.text");
  ok(txt && txt.data === "hello" && txt.size === 5 && txt.seq === undefined, `text payload ${show(txt)}`);
  const bin = pm.find((e) => e.subject === "pub.bin");
  ok(bin && bin.data_b64 === "/wA=" && bin.size === 2, `binary payload ${show(bin)}`);
  const rep = pm.find((e) => e.subject === "pub.reply");
  ok(rep && rep.reply === "the.reply", `reply subject ${show(rep)}`);
  if (f.has("headers")) {
    const hm = pm.find((e) => e.subject === "pub.hdr");
    ok(hm && hm.headers && JSON.stringify(hm.headers["X-A"]) === '["1","2"]' &&
      JSON.stringify(hm.headers["X-B"]) === '["b"]', `headers ${show(hm)}`);
  }
  const mp = await d.run("publish", { subject: "pub.big", size: 2 * 1024 * 1024 });
  ok(isErr(mp, "max_payload") && mp.published === 0, `publish over max_payload: ${show(mp)}`);

  // queue groups
  if (f.has("queue")) {
    await d.run("subscribe", { sub: "q1", subject: "qq", queue: "grp" });
    await d.run("subscribe", { sub: "q2", subject: "qq", queue: "grp" });
    await d.run("flush", { timeout_ms: 2000 });
    ok(isOk(await d.run("publish", { subject: "qq", count: 20 })), "publish 20 to a queue group");
    await d.run("flush", { timeout_ms: 2000 });
    await d.waitFor(() => d.count(msgOf("q1")) + d.count(msgOf("q2")) >= 20);
    await d.run("flush", { timeout_ms: 2000 });
    ok(d.count(msgOf("q1")) + d.count(msgOf("q2")) === 20, "queue group: each message delivered once");
  }

  // auto-unsubscribe: subscribe max, unsubscribe max
  if (f.has("auto_unsub")) {
    await d.run("subscribe", { sub: "mx", subject: "mx", max: 2 });
    await d.run("subscribe", { sub: "um", subject: "um" });
    ok(isOk(await d.run("unsubscribe", { sub: "um", max: 3 })), "unsubscribe max 3");
    await d.run("flush", { timeout_ms: 2000 });
    await d.run("publish", { subject: "mx", count: 5 });
    await d.run("publish", { subject: "um", count: 5 });
    await d.run("flush", { timeout_ms: 2000 });
    await d.waitFor(() => d.count(msgOf("mx")) >= 2 && d.count(msgOf("um")) >= 3);
    await d.run("flush", { timeout_ms: 2000 });
    ok(d.count(msgOf("mx")) === 2, `subscribe max 2 delivers 2 (${d.count(msgOf("mx"))})`);
    ok(d.count(msgOf("um")) === 3, `unsubscribe max 3 delivers 3 (${d.count(msgOf("um"))})`);
  }

  // unsubscribe
  await d.run("subscribe", { sub: "u", subject: "un" });
  await d.run("flush", { timeout_ms: 2000 });
  await d.run("publish", { subject: "un", data: "1" });
  await d.run("flush", { timeout_ms: 2000 });
  await d.waitFor(msgOf("u"));
  ok(isOk(await d.run("unsubscribe", { sub: "u" })), "unsubscribe");
  await d.run("publish", { subject: "un", data: "2" });
  await d.run("flush", { timeout_ms: 2000 });
  ok(d.count(msgOf("u")) === 1, "no message after unsubscribe");
  const bu = await d.run("unsubscribe", { sub: "never-subscribed" });
  ok(isErr(bu), `unsubscribe of an unknown tag fails (${show(bu)})`);

  // protocol 2: batch, on_msg handler actions, info (when the driver has them)
  const feats = d.events[0].features || [];
  if (feats.includes("batch")) {
    await d.run("subscribe", { sub: "bt", subject: "bt" });
    await d.run("flush", { timeout_ms: 2000 });
    const bid = d.nextId;
    const b = await d.run("batch", { commands: [
      { id: bid + 1, op: "publish", subject: "bt", count: 3 },
      { id: bid + 2, op: "flush", timeout_ms: 2000 }] });
    d.nextId = bid + 3;
    ok(isOk(b), `batch ends ok (${show(b)})`);
    ok(isOk(await d.reply(bid + 1)) && isOk(await d.reply(bid + 2)), "each batch entry ends with its own ok");
    ok(await d.waitFor(() => d.count(msgOf("bt")) >= 3) !== null, "batch publishes delivered");
  }
  if (feats.includes("on_msg")) {
    const sid = d.nextId;
    const r = await d.run("subscribe", { sub: "om", subject: "om", on_msg: [
      { at: 1, id: sid + 1, op: "flush", timeout_ms: 2000 }] });
    d.nextId = sid + 2;
    ok(isOk(r), "subscribe with on_msg");
    await d.run("flush", { timeout_ms: 2000 });
    await d.run("publish", { subject: "om", count: 2 });
    await d.waitFor(() => d.count(msgOf("om")) >= 2);
    await d.reply(sid + 1);
    const at = (pred) => d.events.findIndex(pred);
    const m1 = at((e) => e.ev === "msg" && e.sub === "om" && e.seq === 1);
    const m2 = at((e) => e.ev === "msg" && e.sub === "om" && e.seq === 2);
    const ax = at((e) => e.ev === "action" && e.id === sid + 1);
    const rx = at((e) => e.id === sid + 1 && (e.ev === "ok" || e.ev === "err"));
    ok(m1 < ax && ax < rx && rx < m2 && d.events[rx].ev === "ok",
       `handler flush: msg 1, action, its ok, then msg 2 (lines ${m1} ${ax} ${rx} ${m2}): a driver that re-orders fails here`);
  }
  if (feats.includes("info")) {
    const r = await d.run("info", {});
    ok(isOk(r) && typeof r.status === "string" && Array.isArray(r.subs), `info: status and subs (${show(r)})`);
  }

  // handler modes: every mode the driver offers keeps msg/msg_done serial
  const h = d.events[0];
  for (const mode of h.subscribe_modes || [null]) {
    const tag = `mode-${mode}`;
    const fields = { sub: tag, subject: `mode.${mode}`, delay_ms: 15 };
    if (mode) fields.mode = mode;
    ok(isOk(await d.run("subscribe", fields)), `subscribe with delay_ms (mode ${mode})`);
    await d.run("flush", { timeout_ms: 2000 });
    await d.run("publish", { subject: `mode.${mode}`, count: 3 });
    await d.waitFor(() => d.count((e) => e.ev === "msg_done" && e.sub === tag) >= 3);
    const seen = d.events.filter((e) => e.sub === tag && (e.ev === "msg" || e.ev === "msg_done"))
      .map((e) => `${e.ev}:${e.seq}`).join(" ");
    ok(seen === "msg:1 msg_done:1 msg:2 msg_done:2 msg:3 msg_done:3", `slow handler is serial (mode ${mode}): ${seen}`);
  }

  // request / reply
  if (f.has("request")) {
    await d.run("subscribe", { sub: "svc", subject: "svc", reply_with: "pong" });
    await d.run("flush", { timeout_ms: 2000 });
    const rq = f.has("headers")
      ? { subject: "svc", data: "ping", timeout_ms: 2000, headers: { "X-Q": ["q"] } }
      : { subject: "svc", data: "ping", timeout_ms: 2000 };
    const rr = await d.run("request", rq);
    ok(isOk(rr) && rr.data === "pong", `request answered by reply_with (${show(rr)})`);
    const sm = d.events.find(msgOf("svc"));
    ok(sm && sm.reply && sm.data === "ping", `the responder saw the request with a reply subject (${show(sm)})`);
    if (f.has("headers")) ok(sm && sm.headers && sm.headers["X-Q"][0] === "q", "request headers reach the responder");
    const nr = await d.run("request", { subject: "nobody.home", timeout_ms: 2000 });
    ok(isErr(nr, "no_responders"), `request without responders (${show(nr)})`);
    await d.run("subscribe", { sub: "mute", subject: "mute" });
    await d.run("flush", { timeout_ms: 2000 });
    const to = await d.run("request", { subject: "mute", timeout_ms: 200 });
    ok(isErr(to, "timeout"), `request with a silent responder times out (${show(to)})`);
  }

  // slow consumer: a tiny pending limit and a slow handler
  if (f.has("slow_consumer")) {
    await d.run("subscribe", { sub: "sc", subject: "sc", delay_ms: 50, pending_msgs_limit: 2 });
    await d.run("flush", { timeout_ms: 2000 });
    await d.run("publish", { subject: "sc", count: 20 });
    const sc = await d.waitFor((e) => e.ev === "slow_consumer" && e.sub === "sc");
    ok(sc, `slow_consumer reported (${show(sc)})`);
  }

  // flush, then drain the connection
  ok(isOk(await d.run("flush", {})), "flush without timeout");
  await d.run("subscribe", { sub: "dr", subject: "dr", delay_ms: 10 });
  await d.run("flush", { timeout_ms: 2000 });
  await d.run("publish", { subject: "dr", count: 3 });
  await d.run("flush", { timeout_ms: 2000 });
  const dr = await d.run("drain", { timeout_ms: 5000 });
  ok(isOk(dr), `drain ok (${show(dr)})`);
  const cl = await d.waitFor((e) => e.ev === "closed");
  ok(cl, "closed event after drain");
  await d.waitFor(() => d.count((e) => e.ev === "msg_done" && e.sub === "dr") >= 3);
  ok(d.count(msgOf("dr")) === 3, `drain delivered the 3 pending messages (${d.count(msgOf("dr"))})`);
  // Whether the library waited for the handlers is the conformance suite's
  // question (drain_conn), not this test's: only note it.
  const lastDone = d.events.filter((e) => e.ev === "msg_done" && e.sub === "dr").pop();
  if (lastDone && d.events.indexOf(lastDone) > d.events.indexOf(dr)) {
    process.stdout.write("note drain ok came before the last handler returned (library behaviour)\n");
  }
  const after = await d.run("publish", { subject: "x", data: "x" });
  ok(isErr(after, "closed"), `publish after drain fails closed (${show(after)})`);
  const bad = await d.run("no_such_op", {});
  ok(isErr(bad, "bad_command"), `unknown op is bad_command (${show(bad)})`);
  checkT(d);
  const ex = await d.run("exit", {});
  ok(isOk(ex), "exit ok");
  await exitsWithin(d, "exit");
}

// Authentication, close and exit on end of input.
async function authRun(argv) {
  const url = await startServer(["--user", "u", "--pass", "p"]);
  const d = new Driver(argv, "auth");
  const f = await hello(d);
  if (f.has("user_pass")) {
    const bad = await d.run("connect", { servers: [url], user: "u", pass: "wrong", reconnect: false });
    ok(isErr(bad, "auth"), `connect with a wrong password (${show(bad)})`);
    const good = await d.run("connect", { servers: [url], user: "u", pass: "p" });
    ok(isOk(good), `connect with user and password (${show(good)})`);
    ok(isOk(await d.run("flush", { timeout_ms: 2000 })), "flush on the authenticated connection");
    const c = await d.run("close", {});
    ok(isOk(c), `close ok (${show(c)})`);
    ok(await d.waitFor((e) => e.ev === "closed"), "closed event after close");
    const fl = await d.run("flush", { timeout_ms: 500 });
    ok(isErr(fl, "closed"), `flush after close fails closed (${show(fl)})`);
    // close then connect sent together: the close is the old connection's.
    const c2 = d.send("close", {});
    const again = d.send("connect", { servers: [url], user: "u", pass: "p" });
    const f2 = d.send("flush", { timeout_ms: 2000 });
    const r2 = await d.reply(c2);
    ok(isOk(r2) || isErr(r2, "closed"), `close of the closed connection: ok or closed (${show(r2)})`);
    ok(isOk(await d.reply(again)), "a new connect after close");
    ok(isOk(await d.reply(f2)), "flush on the new connection");
  }
  d.proc.stdin.end();
  await exitsWithin(d, "end of stdin");
  if (f.has("user_pass")) {
    ok(d.count((e) => e.ev === "closed") === 2, `the connection open at end of stdin is closed, with its event (${d.count((e) => e.ev === "closed")} closed events)`);
  }

  if (f.has("token")) {
    const turl = await startServer(["--auth", "s3cret"]);
    const t = new Driver(argv, "token");
    await hello(t);
    const r = await t.run("connect", { servers: [turl], token: "s3cret", verbose: f.has("verbose"),
      pedantic: f.has("pedantic") });
    ok(isOk(r), `connect with a token, verbose and pedantic (${show(r)})`);
    await t.run("subscribe", { sub: "v", subject: "v" });
    await t.run("publish", { subject: "v", count: 2 });
    ok(isOk(await t.run("flush", { timeout_ms: 2000 })), "flush with verbose on");
    ok(await t.waitFor(() => t.count(msgOf("v")) === 2), "messages flow with verbose on");
    // End of input while connected: the driver closes and exits by itself.
    t.proc.stdin.end();
    await exitsWithin(t, "end of stdin while connected");
  }
}

// Losing the server: lame duck mode (when the driver has the feature) or a
// kill, then a new server on the same port, then a kill with no comeback.
async function reconnectRun(argv) {
  const conf = path.join(tmpRoot, "ldm.conf");
  // 30 s is nats-server's minimum lame duck duration; with one client the
  // server closes it after the grace period.
  fs.writeFileSync(conf, 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n');
  const url = await startServer(["-c", conf]);
  const s1 = startServer.last;
  const port = Number(url.split(":").pop());
  const d = new Driver(argv, "reconnect");
  const f = await hello(d);
  if (!f.has("reconnect")) {
    d.proc.stdin.end();
    await exitsWithin(d, "end of stdin");
    return;
  }
  const r = await d.run("connect", { servers: [url], reconnect: true, max_reconnect: 30,
    reconnect_wait_ms: 100, reconnect_jitter_ms: 0, no_randomize: true });
  ok(isOk(r), `connect with reconnect options (${show(r)})`);
  const cn = await d.waitFor((e) => e.ev === "connected");
  ok(cn, "connected event");
  await d.run("subscribe", { sub: "rc", subject: "rc" });
  ok(isOk(await d.run("flush", { timeout_ms: 2000 })), "flush before losing the server");
  const s1gone = new Promise((res) => s1.on("exit", res));
  if (f.has("lame_duck")) {
    spawn(serverCmd, ["--signal", `ldm=${s1.pid}`], { stdio: "ignore" });
    ok(await d.waitFor((e) => e.ev === "lame_duck"), "lame_duck event after the server entered lame duck mode");
  } else {
    s1.kill("SIGKILL");
  }
  const dis = await d.waitFor((e) => e.ev === "disconnected");
  ok(dis, `disconnected event (${show(dis)})`);
  await s1gone;
  await startServer([], port);
  const s2 = startServer.last;
  const rec = await d.waitFor((e) => e.ev === "reconnected", 10000);
  ok(rec && d.events.indexOf(rec) > d.events.indexOf(dis), `reconnected event (${show(rec)})`);
  ok(isOk(await d.run("publish", { subject: "rc", count: 3 })), "publish after reconnect");
  ok(isOk(await d.run("flush", { timeout_ms: 2000 })), "flush after reconnect");
  ok(await d.waitFor(() => d.count(msgOf("rc")) === 3), "the subscription survived the reconnect");
  const mark = d.events.length;
  s2.kill("SIGKILL");
  ok(await d.waitFor((e) => e.ev === "disconnected", STEP_MS, mark), "disconnected when the new server dies");
  const cl = await d.waitFor((e) => e.ev === "closed", 15000, mark);
  ok(cl, "closed after max_reconnect attempts fail");
  const pub = await d.run("publish", { subject: "rc", data: "late" });
  ok(isErr(pub, "closed"), `publish on the closed connection (${show(pub)})`);
  ok(isOk(await d.run("exit", {})), "exit ok");
  await exitsWithin(d, "exit");
}

function cleanup() {
  for (const d of drivers) if (!d.exited) d.proc.kill("SIGKILL");
  for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}

async function main() {
  const args = process.argv.slice(2);
  const dd = args.indexOf("--");
  if (dd < 0 || dd === args.length - 1) die(2, "usage: driver-test.js [--server CMD] -- DRIVER [ARGS...]");
  const si = args.indexOf("--server");
  if (si >= 0 && si < dd) serverCmd = args[si + 1];
  const argv = args.slice(dd + 1);
  const bound = setTimeout(() => die(1, `run exceeded ${RUN_MS} ms`), RUN_MS);
  let url;
  try {
    url = await startServer([]);
  } catch (e) {
    die(2, e.message);
  }
  await mainRun(url, argv);
  await authRun(argv);
  await reconnectRun(argv);
  clearTimeout(bound);
  for (const d of drivers) {
    if (d.stderr && process.env.NM_DRIVER_TEST_VERBOSE) process.stdout.write(`--- ${d.name} stderr\n${d.stderr}`);
  }
  process.stdout.write(`${checks - failures}/${checks} checks passed\n`);
  cleanup();
  process.exit(failures ? 1 : 0);
}

main().catch((e) => die(1, e.stack || String(e)));
