// Command natsmock-driver-nats-go wraps nats.go (1.22.1) in the natsmock
// driver protocol (DRIVER-PROTOCOL.md, version 2): JSON commands on stdin,
// one per line; JSON events on stdout, one per line; free-form log on stderr.
//
// Every command runs on a goroutine of its own and ends with exactly one
// ok/err line. Commands start in the order received: each goroutine waits
// until the previous command has made its library calls up to the point
// where they wait (publish, subscribe, unsubscribe, the UNSUB of a drain,
// the PING of a flush, the PUB of a request), so the library sees them in
// order, while the waits (a flush's PONG, a drain's completion, a reply)
// never hold up the commands after them.
//
// The library is used as its documentation teaches: nats.Connect with
// options and handlers, async Subscribe/QueueSubscribe with a handler,
// FlushTimeout, Subscription.Drain, Conn.Drain with the closed handler,
// RequestMsg, Close.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

const (
	protocolVersion = 2
	// Named limits: nothing the harness sends may grow memory without bound.
	maxLine  = 1 << 20  // one command line, bytes
	maxCount = 10000000 // messages in one publish command
	maxSize  = 64 << 20 // bytes of one generated payload
	maxText  = 256      // payload bytes echoed in a msg event
	// Bounds on waiting.
	exitCloseWait = 2 * time.Second // closing the connection at exit
	eofWait       = 2 * time.Second // in-flight commands at end of stdin
	// A flush or request lets the next command start once it is parked in
	// the library (its PING or request written), or after startWait.
	startWait = 200 * time.Millisecond
	// The most bytes of goroutine dump read to see that.
	maxStackDump = 16 << 20
	// A flush's ok waits this long at most for earlier flushes to reply.
	flushOrderWait   = 100 * time.Millisecond
	drainPoll        = 5 * time.Millisecond    // sub drain completion polling
	defaultReqWait   = 1000 * time.Millisecond // request without timeout_ms
	defaultFlushWait = 10 * time.Second        // nats.go's own Flush() default
)

// Every feature of DRIVER-PROTOCOL.md: nats.go has them all.
var features = []string{
	"headers", "queue", "auto_unsub", "flush", "drain_sub", "drain",
	"request", "no_echo", "reconnect", "reconnect_buffer", "lame_duck",
	"slow_consumer", "verbose", "pedantic", "user_pass", "token",
	"batch", "on_msg", "info",
}

var start = time.Now()

func nowUs() int64 { return time.Since(start).Microseconds() }

// ---------------------------------------------------------------- output

// obj is a JSON object that keeps its keys in the order they were added.
type obj []kv

type kv struct {
	k string
	v interface{}
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(e.k)
		vb, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

var outMu sync.Mutex

// write puts one line on stdout with a single write under outMu, so lines
// from different goroutines never interleave; os.Stdout is unbuffered. When
// stamp is set the clock is read under the same lock, so t never goes
// backwards from one line to the next.
func write(o obj, stamp bool) {
	outMu.Lock()
	defer outMu.Unlock()
	if stamp {
		o = append(o, kv{"t", nowUs()})
	}
	b, err := json.Marshal(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot encode %v: %v\n", o, err)
		return
	}
	os.Stdout.Write(append(b, '\n'))
}

// emit writes a command reply or the hello line.
func emit(o obj) { write(o, false) }

// event emits an unsolicited event with the driver's clock.
func event(ev string, fields ...kv) {
	o := obj{{"ev", ev}}
	write(append(o, fields...), true)
}

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "[nats-go %d] %s\n", nowUs(), fmt.Sprintf(format, a...))
}

// ---------------------------------------------------------------- errors

// driverError is an error raised by the driver itself, with its code.
type driverError struct {
	code string
	text string
}

func (e *driverError) Error() string { return e.text }

func derr(code, format string, a ...interface{}) error {
	return &driverError{code, fmt.Sprintf(format, a...)}
}

// errCode maps a nats.go error onto the protocol's error codes.
func errCode(err error) string {
	var de *driverError
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.As(err, &de):
		return de.code
	case errors.As(err, &ue) && ue.Op == "parse":
		// A bad server URL: *url.Error also satisfies net.Error.
		return "other"
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrDrainTimeout):
		return "timeout"
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrBadSubscription):
		return "closed"
	case errors.Is(err, nats.ErrConnectionDraining):
		return "draining"
	case errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrStaleConnection), errors.Is(err, nats.ErrInvalidConnection),
		errors.Is(err, nats.ErrDisconnected):
		return "disconnected"
	case errors.Is(err, nats.ErrMaxPayload):
		return "max_payload"
	case errors.Is(err, nats.ErrBadSubject):
		return "bad_subject"
	case errors.Is(err, nats.ErrHeadersNotSupported), errors.Is(err, nats.ErrNoEchoNotSupported):
		return "not_supported"
	case errors.Is(err, nats.ErrReconnectBufExceeded):
		return "buffer_full"
	case errors.Is(err, nats.ErrNoResponders):
		return "no_responders"
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired),
		strings.HasPrefix(err.Error(), "nats: permissions violation"):
		return "auth"
	case errors.As(err, &ne):
		if ne.Timeout() {
			return "timeout"
		}
		return "disconnected"
	}
	return "other"
}

// ---------------------------------------------------------------- commands

type command struct {
	ID                *int64              `json:"id"`
	Op                string              `json:"op"`
	Servers           []string            `json:"servers"`
	Name              *string             `json:"name"`
	User              *string             `json:"user"`
	Pass              *string             `json:"pass"`
	Token             *string             `json:"token"`
	Verbose           *bool               `json:"verbose"`
	Pedantic          *bool               `json:"pedantic"`
	Echo              *bool               `json:"echo"`
	TimeoutMs         *int64              `json:"timeout_ms"`
	Reconnect         *bool               `json:"reconnect"`
	MaxReconnect      *int                `json:"max_reconnect"`
	ReconnectWaitMs   *int64              `json:"reconnect_wait_ms"`
	ReconnectJitterMs *int64              `json:"reconnect_jitter_ms"`
	ReconnectBufBytes *int                `json:"reconnect_buf_bytes"`
	PingIntervalMs    *int64              `json:"ping_interval_ms"`
	MaxPingsOut       *int                `json:"max_pings_out"`
	DrainTimeoutMs    *int64              `json:"drain_timeout_ms"`
	NoRandomize       *bool               `json:"no_randomize"`
	Subject           string              `json:"subject"`
	Reply             string              `json:"reply"`
	Data              *string             `json:"data"`
	DataB64           *string             `json:"data_b64"`
	Headers           map[string][]string `json:"headers"`
	Count             *int                `json:"count"`
	Size              int                 `json:"size"`
	Sub               string              `json:"sub"`
	Queue             string              `json:"queue"`
	Max               int                 `json:"max"`
	DelayMs           int64               `json:"delay_ms"`
	ReplyWith         *string             `json:"reply_with"`
	PendingMsgsLimit  *int                `json:"pending_msgs_limit"`
	PendingBytesLimit *int                `json:"pending_bytes_limit"`
	// Protocol 2: a subscribe's handler actions, an action's message number,
	// a batch's commands.
	OnMsg    []*command `json:"on_msg"`
	At       int64      `json:"at"`
	Commands []*command `json:"commands"`

	// The connection this command works on: the latest connect command's,
	// captured when the command was read.
	fut *connFuture
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// connState is one connection made by a connect command.
type connState struct {
	nc     *nats.Conn
	closed chan struct{} // closed by the library's closed handler
	mu     sync.Mutex
	// The first asynchronous error after a drain started: nats.go reports a
	// drain timeout or a failed final flush only there.
	draining bool
	drainErr error
}

// connFuture is one connect command's connection: cs is set (nil when the
// connect failed) before done is closed.
type connFuture struct {
	done chan struct{}
	cs   *connState
}

var (
	stateMu   sync.Mutex
	latest    *connFuture // the latest connect command read
	subs      = map[string]*nats.Subscription{}
	subTags   = map[*nats.Subscription]string{}
	exitGuard sync.Once
	inflight  sync.WaitGroup // commands that have not replied yet
)

// needConn waits for the connect command read before c to settle and
// returns its connection.
func needConn(c *command) (*connState, error) {
	f := c.fut
	if f == nil {
		return nil, derr("closed", "not connected: no connect command was given")
	}
	<-f.done
	if f.cs == nil {
		return nil, derr("closed", "not connected: the connect command failed")
	}
	return f.cs, nil
}

func findSub(tag string) (*nats.Subscription, error) {
	stateMu.Lock()
	defer stateMu.Unlock()
	s := subs[tag]
	if s == nil {
		return nil, derr("bad_command", "unknown sub %q", tag)
	}
	return s, nil
}

func tagOf(s *nats.Subscription) (string, bool) {
	stateMu.Lock()
	defer stateMu.Unlock()
	t, ok := subTags[s]
	return t, ok
}

// seqPayload is the k-th sequenced payload: decimal k padded with '.' to size.
func seqPayload(k, size int) []byte {
	s := []byte(fmt.Sprint(k))
	for len(s) < size {
		s = append(s, '.')
	}
	return s
}

// readSeq is the number at the start of a payload, when it starts with digits.
func readSeq(b []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(b) && i < 15 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, i > 0
}

// dataFields is data (text, when the bytes are UTF-8) or data_b64.
func dataFields(b []byte, limit int) []kv {
	if len(b) > limit {
		return nil
	}
	if utf8.Valid(b) {
		return []kv{{"data", string(b)}}
	}
	return []kv{{"data_b64", base64.StdEncoding.EncodeToString(b)}}
}

func cmdData(c *command) ([]byte, error) {
	if c.Data != nil {
		return []byte(*c.Data), nil
	}
	if c.DataB64 != nil {
		b, err := base64.StdEncoding.DecodeString(*c.DataB64)
		if err != nil {
			return nil, derr("bad_command", "data_b64: %v", err)
		}
		return b, nil
	}
	return nil, nil
}

// cmdHeaders keeps the keys as given: nats.Header is a plain map.
func cmdHeaders(c *command) nats.Header {
	if len(c.Headers) == 0 {
		return nil
	}
	h := nats.Header{}
	for k, v := range c.Headers {
		h[k] = append([]string(nil), v...)
	}
	return h
}

func msgEvent(tag string, m *nats.Msg) (int64, bool) {
	f := []kv{{"sub", tag}, {"subject", m.Subject}}
	if m.Reply != "" {
		f = append(f, kv{"reply", m.Reply})
	}
	f = append(f, kv{"size", len(m.Data)})
	seq, has := readSeq(m.Data)
	if has {
		f = append(f, kv{"seq", seq})
	}
	f = append(f, dataFields(m.Data, maxText)...)
	if len(m.Header) > 0 {
		f = append(f, kv{"headers", map[string][]string(m.Header)})
	}
	event("msg", f...)
	return seq, has
}

func doConnect(c *command) (obj, error) {
	cs := &connState{closed: make(chan struct{})}
	opts := []nats.Option{
		nats.ConnectHandler(func(*nats.Conn) { event("connected") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				event("disconnected", kv{"error", err.Error()})
			} else {
				event("disconnected")
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { event("reconnected") }),
		nats.ClosedHandler(func(*nats.Conn) {
			event("closed")
			close(cs.closed)
		}),
		nats.DiscoveredServersHandler(func(nc *nats.Conn) {
			event("discovered", kv{"servers", nc.DiscoveredServers()})
		}),
		nats.LameDuckModeHandler(func(*nats.Conn) { event("lame_duck") }),
		nats.ErrorHandler(func(nc *nats.Conn, s *nats.Subscription, err error) {
			f := []kv{{"code", errCode(err)}, {"error", err.Error()}}
			if s != nil {
				if tag, ok := tagOf(s); ok {
					if errors.Is(err, nats.ErrSlowConsumer) {
						event("slow_consumer", kv{"sub", tag})
					}
					f = append(f, kv{"sub", tag})
				}
			} else {
				// The callback runs on the library's callback goroutine,
				// maybe after the connection closed: the driver's own flag
				// says whether a drain had started.
				cs.mu.Lock()
				if cs.draining && cs.drainErr == nil {
					cs.drainErr = err
				}
				cs.mu.Unlock()
			}
			event("error", f...)
		}),
	}
	if c.Name != nil {
		opts = append(opts, nats.Name(*c.Name))
	}
	if c.User != nil || c.Pass != nil {
		var u, p string
		if c.User != nil {
			u = *c.User
		}
		if c.Pass != nil {
			p = *c.Pass
		}
		opts = append(opts, nats.UserInfo(u, p))
	}
	if c.Token != nil {
		opts = append(opts, nats.Token(*c.Token))
	}
	// nats.go has no option functions for these two; an Option is any
	// function that edits Options, as its documentation shows.
	if c.Verbose != nil {
		v := *c.Verbose
		opts = append(opts, func(o *nats.Options) error { o.Verbose = v; return nil })
	}
	if c.Pedantic != nil {
		v := *c.Pedantic
		opts = append(opts, func(o *nats.Options) error { o.Pedantic = v; return nil })
	}
	if c.Echo != nil && !*c.Echo {
		opts = append(opts, nats.NoEcho())
	}
	if c.TimeoutMs != nil {
		opts = append(opts, nats.Timeout(ms(*c.TimeoutMs)))
	}
	if c.Reconnect != nil && !*c.Reconnect {
		opts = append(opts, nats.NoReconnect())
	}
	if c.MaxReconnect != nil {
		opts = append(opts, nats.MaxReconnects(*c.MaxReconnect))
	}
	if c.ReconnectWaitMs != nil {
		opts = append(opts, nats.ReconnectWait(ms(*c.ReconnectWaitMs)))
	}
	if c.ReconnectJitterMs != nil {
		j := ms(*c.ReconnectJitterMs)
		opts = append(opts, nats.ReconnectJitter(j, j))
	}
	if c.ReconnectBufBytes != nil {
		opts = append(opts, nats.ReconnectBufSize(*c.ReconnectBufBytes))
	}
	if c.PingIntervalMs != nil {
		opts = append(opts, nats.PingInterval(ms(*c.PingIntervalMs)))
	}
	if c.MaxPingsOut != nil {
		opts = append(opts, nats.MaxPingsOutstanding(*c.MaxPingsOut))
	}
	if c.DrainTimeoutMs != nil {
		opts = append(opts, nats.DrainTimeout(ms(*c.DrainTimeoutMs)))
	}
	if c.NoRandomize != nil && *c.NoRandomize {
		opts = append(opts, nats.DontRandomize())
	}
	nc, err := nats.Connect(strings.Join(c.Servers, ","), opts...)
	if err != nil {
		return nil, err
	}
	cs.nc = nc
	c.fut.cs = cs // published to other goroutines by closing c.fut.done
	return nil, nil
}

func doPublish(c *command) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	count := 1
	if c.Count != nil {
		count = *c.Count
	}
	if count < 1 || count > maxCount {
		return nil, derr("bad_command", "count out of range 1..%d", maxCount)
	}
	if c.Size < 0 || c.Size > maxSize {
		return nil, derr("bad_command", "size out of range 0..%d", maxSize)
	}
	fixed, err := cmdData(c)
	if err != nil {
		return nil, err
	}
	h := cmdHeaders(c)
	for k := 1; k <= count; k++ {
		data := fixed
		if data == nil {
			data = seqPayload(k, c.Size)
		}
		m := &nats.Msg{Subject: c.Subject, Reply: c.Reply, Data: data, Header: h}
		if err := cs.nc.PublishMsg(m); err != nil {
			return obj{{"published", k - 1}}, err
		}
	}
	return nil, nil
}

func doSubscribe(c *command) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	tag := c.Sub
	delay := ms(c.DelayMs)
	reply := c.ReplyWith
	actions := c.OnMsg
	for _, a := range actions {
		a.fut = c.fut
	}
	var nmsgs int64 // the handler's own count (nats.go calls it serially)
	handler := func(m *nats.Msg) {
		seq, has := msgEvent(tag, m)
		if len(actions) > 0 {
			nmsgs++
			runActions(tag, nmsgs, actions)
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		if reply != nil && m.Reply != "" {
			if err := m.Respond([]byte(*reply)); err != nil {
				event("error", kv{"code", errCode(err)}, kv{"error", err.Error()}, kv{"sub", tag})
			}
		}
		if delay > 0 {
			if has {
				event("msg_done", kv{"sub", tag}, kv{"seq", seq})
			} else {
				event("msg_done", kv{"sub", tag})
			}
		}
	}
	var s *nats.Subscription
	if c.Queue != "" {
		s, err = cs.nc.QueueSubscribe(c.Subject, c.Queue, handler)
	} else {
		s, err = cs.nc.Subscribe(c.Subject, handler)
	}
	if err != nil {
		return nil, err
	}
	stateMu.Lock()
	subs[tag] = s
	subTags[s] = tag
	stateMu.Unlock()
	if c.PendingMsgsLimit != nil || c.PendingBytesLimit != nil {
		pm, pb := nats.DefaultSubPendingMsgsLimit, nats.DefaultSubPendingBytesLimit
		if c.PendingMsgsLimit != nil {
			pm = *c.PendingMsgsLimit
		}
		if c.PendingBytesLimit != nil {
			pb = *c.PendingBytesLimit
		}
		if err := s.SetPendingLimits(pm, pb); err != nil {
			return nil, err
		}
	}
	if c.Max > 0 {
		if err := s.AutoUnsubscribe(c.Max); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func doUnsubscribe(c *command) (obj, error) {
	if _, err := needConn(c); err != nil {
		return nil, err
	}
	s, err := findSub(c.Sub)
	if err != nil {
		return nil, err
	}
	if c.Max > 0 {
		return nil, s.AutoUnsubscribe(c.Max)
	}
	return nil, s.Unsubscribe()
}

// waitBound is the command's timeout_ms as a channel, or nil (no bound).
func waitBound(c *command) (<-chan time.Time, func()) {
	if c.TimeoutMs == nil || *c.TimeoutMs <= 0 {
		return nil, func() {}
	}
	t := time.NewTimer(ms(*c.TimeoutMs))
	return t.C, func() { t.Stop() }
}

// doDrainSub: Subscription.Drain sends UNSUB and returns; nats.go 1.22 has
// no completion callback for a subscription, so the driver polls IsValid,
// which turns false when the library removes the drained subscription.
func doDrainSub(c *command, started func()) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	s, err := findSub(c.Sub)
	if err != nil {
		return nil, err
	}
	if err := s.Drain(); err != nil {
		return nil, err
	}
	started()
	bound, stop := waitBound(c)
	defer stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for s.IsValid() {
		select {
		case <-bound:
			return nil, derr("timeout", "subscription drain did not complete within %d ms (driver timer; nats.go has no sub drain timeout)", *c.TimeoutMs)
		case <-tick.C:
		}
	}
	if cs.nc.IsClosed() {
		return nil, nats.ErrConnectionClosed
	}
	return nil, nil
}

// doDrain: Conn.Drain returns at once; the drain is over when the closed
// handler runs, and failed if an asynchronous error came in the meantime.
func doDrain(c *command, started func()) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	cs.draining = true
	cs.mu.Unlock()
	if err := cs.nc.Drain(); err != nil {
		return nil, err
	}
	started()
	bound, stop := waitBound(c)
	defer stop()
	select {
	case <-cs.closed:
	case <-bound:
		return nil, derr("timeout", "connection drain did not close the connection within %d ms (driver timer)", *c.TimeoutMs)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return nil, cs.drainErr
}

func doFlush(c *command) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	wait := defaultFlushWait
	if c.TimeoutMs != nil {
		wait = ms(*c.TimeoutMs)
	}
	return nil, cs.nc.FlushTimeout(wait)
}

func doRequest(c *command) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	data, err := cmdData(c)
	if err != nil {
		return nil, err
	}
	if data == nil {
		// Without data a request carries the first sequenced payload, as
		// publish does.
		if c.Size < 0 || c.Size > maxSize {
			return nil, derr("bad_command", "size out of range 0..%d", maxSize)
		}
		data = seqPayload(1, c.Size)
	}
	wait := defaultReqWait
	if c.TimeoutMs != nil {
		wait = ms(*c.TimeoutMs)
	}
	m, err := cs.nc.RequestMsg(&nats.Msg{Subject: c.Subject, Data: data, Header: cmdHeaders(c)}, wait)
	if err != nil {
		return nil, err
	}
	o := obj(dataFields(m.Data, maxSize))
	if len(m.Header) > 0 {
		o = append(o, kv{"headers", map[string][]string(m.Header)})
	}
	return o, nil
}

func doClose(c *command) (obj, error) {
	cs, err := needConn(c)
	if err != nil {
		return nil, err
	}
	cs.nc.Close()
	return nil, nil
}

// reply writes a command's result line.
func reply(id int64, fields obj, err error) {
	o := obj{{"id", id}}
	if err != nil {
		o = append(o, kv{"ev", "err"}, kv{"code", errCode(err)}, kv{"error", err.Error()})
	} else {
		o = append(o, kv{"ev", "ok"})
	}
	emit(append(o, fields...))
}

// runActions makes the on_msg actions due at message k inside the handler
// (nats.go's callback goroutine), as a user's handler would: FlushTimeout and
// RequestMsg block it and their result is written when they return; Publish,
// Unsubscribe and Close return at once; Drain returns at once and its
// completion is awaited on another goroutine (the handler waits only until
// the Drain call was made).
func runActions(tag string, k int64, actions []*command) {
	for _, a := range actions {
		if a.At != k || a.ID == nil {
			continue
		}
		event("action", kv{"id", *a.ID}, kv{"sub", tag}, kv{"at", k})
		switch a.Op {
		case "flush":
			f, err := doFlush(a)
			reply(*a.ID, f, err)
		case "request":
			f, err := doRequest(a)
			reply(*a.ID, f, err)
		case "publish":
			f, err := doPublish(a)
			reply(*a.ID, f, err)
		case "unsubscribe":
			f, err := doUnsubscribe(a)
			reply(*a.ID, f, err)
		case "close":
			f, err := doClose(a)
			reply(*a.ID, f, err)
		case "drain_sub", "drain":
			made := make(chan struct{})
			var once sync.Once
			startedFn := func() { once.Do(func() { close(made) }) }
			inflight.Add(1)
			go func(a *command) {
				defer inflight.Done()
				var f obj
				var err error
				if a.Op == "drain" {
					f, err = doDrain(a, startedFn)
				} else {
					f, err = doDrainSub(a, startedFn)
				}
				startedFn()
				reply(*a.ID, f, err)
			}(a)
			<-made
		default:
			reply(*a.ID, nil, derr("bad_command", "%q is not a handler action", a.Op))
		}
	}
}

// doInfo reports what nats.go knows as state.
func doInfo(c *command) (obj, error) {
	f := c.fut
	if f == nil {
		return obj{{"status", "closed"}}, nil
	}
	<-f.done
	if f.cs == nil {
		return obj{{"status", "closed"}}, nil
	}
	nc := f.cs.nc
	st := map[nats.Status]string{
		nats.DISCONNECTED: "disconnected", nats.CONNECTED: "connected",
		nats.CLOSED: "closed", nats.RECONNECTING: "reconnecting",
		nats.CONNECTING: "connecting", nats.DRAINING_SUBS: "draining_subs",
		nats.DRAINING_PUBS: "draining_pubs",
	}[nc.Status()]
	o := obj{{"status", st}}
	if u := nc.ConnectedUrl(); u != "" {
		o = append(o, kv{"connected_url", u})
	}
	o = append(o, kv{"servers", nc.Servers()}, kv{"discovered", nc.DiscoveredServers()},
		kv{"reconnects", nc.Stats().Reconnects}, kv{"max_payload", nc.MaxPayload()})
	if err := nc.LastError(); err != nil {
		o = append(o, kv{"last_error", err.Error()})
	}
	list := []obj{}
	stateMu.Lock()
	for tag, s := range subs {
		x := obj{{"sub", tag}, {"valid", s.IsValid()}}
		if d, err := s.Delivered(); err == nil {
			x = append(x, kv{"delivered", d})
		}
		if d, err := s.Dropped(); err == nil {
			x = append(x, kv{"dropped", d})
		}
		if pm, pb, err := s.Pending(); err == nil {
			x = append(x, kv{"pending_msgs", pm}, kv{"pending_bytes", pb})
		}
		list = append(list, x)
	}
	stateMu.Unlock()
	return append(o, kv{"subs", list}), nil
}

// goid is the current goroutine's id, from the header of its stack trace
// ("goroutine 123 [running]:"); Go has no other way to name a goroutine.
func goid() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := bytes.Fields(b[:n])
	if len(f) < 2 {
		return 0
	}
	id, _ := strconv.ParseUint(string(f[1]), 10, 64)
	return id
}

// waitParked returns once goroutine gid is parked in a select inside nats.go
// (FlushTimeout has written its PING, a request its PUB, and each waits for
// the answer), once done is closed, or after startWait. The goroutine dump
// is the only place Go shows another goroutine's state.
func waitParked(gid uint64, done <-chan struct{}) {
	deadline := time.Now().Add(startWait)
	hdr := []byte(fmt.Sprintf("goroutine %d [select", gid))
	buf := make([]byte, 256<<10)
	for {
		select {
		case <-done:
			return
		default:
		}
		n := runtime.Stack(buf, true)
		if n == len(buf) && len(buf) < maxStackDump {
			buf = make([]byte, 2*len(buf))
			continue
		}
		dump := buf[:n]
		if i := bytes.Index(dump, hdr); i >= 0 {
			g := dump[i:]
			if j := bytes.Index(g, []byte("\n\n")); j >= 0 {
				g = g[:j]
			}
			// Frames name the package "nats%2ego" (Go escapes the dot in a
			// path's last element); accept the plain spelling too.
			if bytes.Contains(g, []byte("github.com/nats-io/nats%2ego.")) ||
				bytes.Contains(g, []byte("github.com/nats-io/nats.go.(")) {
				return
			}
		}
		if time.Now().After(deadline) {
			logf("goroutine %d not parked in nats.go within %v; starting the next command", gid, startWait)
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// callParked runs call (a library call that writes, then waits) on this
// goroutine, and calls started once the call is parked in the library, so the
// next command starts after this one's bytes are queued, without waiting for
// the answer.
func callParked(started func(), call func() (obj, error)) (obj, error) {
	gid := goid()
	done := make(chan struct{})
	go func() {
		waitParked(gid, done)
		started()
	}()
	defer close(done)
	return call()
}

// Flush replies leave in command order: nats.go releases flushes in the order
// of their PINGs, but two goroutines woken by back-to-back PONGs may print in
// either order. A flush's ok waits (bounded) for earlier flushes to reply.
var (
	flushMu      sync.Mutex
	flushOpen    = map[int64]bool{} // ids of flushes not yet answered
	flushChanged = make(chan struct{})
)

func flushOpened(id int64) {
	flushMu.Lock()
	flushOpen[id] = true
	flushMu.Unlock()
}

func flushAnswered(id int64) {
	flushMu.Lock()
	delete(flushOpen, id)
	close(flushChanged)
	flushChanged = make(chan struct{})
	flushMu.Unlock()
}

func waitEarlierFlushes(id int64) {
	deadline := time.After(flushOrderWait)
	for {
		flushMu.Lock()
		earlier := false
		for k := range flushOpen {
			if k < id {
				earlier = true
				break
			}
		}
		ch := flushChanged
		flushMu.Unlock()
		if !earlier {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// run executes one command on its own goroutine. It waits for the previous
// command's start (prev), and closes next once its own non-blocking part
// has been given to the library.
func run(c *command, prev <-chan struct{}, next chan struct{}) {
	var once sync.Once
	started := func() { once.Do(func() { close(next) }) }
	defer started()
	<-prev
	var (
		fields obj
		err    error
	)
	switch c.Op {
	case "connect":
		fields, err = doConnect(c)
	case "publish":
		fields, err = doPublish(c)
	case "subscribe":
		fields, err = doSubscribe(c)
	case "unsubscribe":
		fields, err = doUnsubscribe(c)
	case "close":
		fields, err = doClose(c)
	case "flush":
		defer flushAnswered(*c.ID) // after the reply below
		fields, err = callParked(started, func() (obj, error) { return doFlush(c) })
		if err == nil {
			waitEarlierFlushes(*c.ID)
		}
	case "request":
		fields, err = callParked(started, func() (obj, error) { return doRequest(c) })
	case "drain_sub":
		fields, err = doDrainSub(c, started)
	case "drain":
		fields, err = doDrain(c, started)
	case "info":
		fields, err = doInfo(c)
	default:
		err = derr("bad_command", "unknown op %q", c.Op)
	}
	o := obj{{"id", *c.ID}}
	if err != nil {
		o = append(o, kv{"ev", "err"}, kv{"code", errCode(err)}, kv{"error", err.Error()})
	} else {
		o = append(o, kv{"ev", "ok"})
	}
	o = append(o, fields...)
	emit(o)
}

// shutdown closes the connection (bounded) and exits 0.
func shutdown() {
	exitGuard.Do(func() {
		var cs *connState
		stateMu.Lock()
		f := latest
		stateMu.Unlock()
		if f != nil {
			select {
			case <-f.done:
				cs = f.cs
			default: // a connect still running: nothing to close yet
			}
		}
		if cs != nil {
			// Close, then let the closed handler (run on the library's
			// callback goroutine) report, all within one bound.
			bound := time.After(exitCloseWait)
			done := make(chan struct{})
			go func() {
				cs.nc.Close()
				close(done)
			}()
			select {
			case <-done:
				select {
				case <-cs.closed:
				case <-bound:
				}
			case <-bound:
				logf("close did not return within %v; exiting anyway", exitCloseWait)
			}
		}
		os.Exit(0)
	})
}

// natsmockVersion is set by build.sh from proto/nm_version.h.
var natsmockVersion = "dev"

const usageText = `usage: natsmock-driver-nats-go [--version | --help]
The natsmock driver for nats.go: JSON commands on stdin, events on stdout, one
per line (docs/DRIVER-PROTOCOL.md). stdin may be a pipe, a terminal or a file.
`

func main() {
	for _, a := range os.Args[1:] {
		switch a {
		case "--version":
			fmt.Printf("natsmock-driver-nats-go %s (nats.go %s)\n", natsmockVersion, nats.Version)
			return
		case "--help", "-h":
			fmt.Print(usageText)
			return
		default:
			fmt.Fprintf(os.Stderr, "natsmock-driver-nats-go: unknown argument %s\n%s", a, usageText)
			os.Exit(2)
		}
	}
	emit(obj{
		{"ev", "hello"}, {"protocol", protocolVersion}, {"client", "nats.go"},
		{"version", nats.Version}, {"features", features},
		{"subscribe", "callback"}, {"subscribe_modes", []string{"callback"}},
	})
	r := bufio.NewReaderSize(os.Stdin, maxLine)
	prev := make(chan struct{})
	close(prev)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Over-long line: drop it through its newline, never buffer it.
			emit(obj{{"ev", "err"}, {"code", "bad_command"}, {"error", fmt.Sprintf("line longer than %d bytes", maxLine)}})
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			if err != nil {
				break
			}
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			prev = dispatch(line, prev)
		}
		if err != nil {
			if err != io.EOF {
				logf("stdin: %v", err)
			}
			break
		}
	}
	// End of input: let the commands already started reply (bounded), then
	// close and exit.
	done := make(chan struct{})
	go func() {
		inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(eofWait):
		logf("end of stdin: commands still running after %v; exiting", eofWait)
	}
	shutdown()
}

// dispatch parses one line and starts its command; it returns the channel
// the next command waits on.
func dispatch(line []byte, prev chan struct{}) chan struct{} {
	c := &command{}
	if err := json.Unmarshal(line, c); err != nil || c.ID == nil || c.Op == "" {
		o := obj{}
		if c.ID != nil {
			o = append(o, kv{"id", *c.ID})
		}
		msg := "a command needs an integer id and an op"
		if err != nil {
			msg = "bad JSON: " + err.Error()
		}
		emit(append(o, kv{"ev", "err"}, kv{"code", "bad_command"}, kv{"error", msg}))
		return prev
	}
	if c.Op == "batch" {
		return startBatch(c, prev)
	}
	return startCmd(c, prev)
}

// startBatch starts every command of a batch back to back, chained as
// separate commands are (each starts once the one before has made its
// library calls), with no stdin read in between; the batch's ok follows
// once the last one has started.
func startBatch(c *command, prev chan struct{}) chan struct{} {
	for _, x := range c.Commands {
		if x == nil || x.ID == nil || x.Op == "" || x.Op == "batch" || x.Op == "exit" {
			o := obj{}
			if x != nil && x.ID != nil {
				o = append(o, kv{"id", *x.ID})
			}
			emit(append(o, kv{"ev", "err"}, kv{"code", "bad_command"}, kv{"error", "a batch entry needs an id and an op (not batch or exit)"}))
			continue
		}
		prev = startCmd(x, prev)
	}
	last := prev
	next := make(chan struct{})
	inflight.Add(1)
	go func() {
		defer inflight.Done()
		<-last
		emit(obj{{"id", *c.ID}, {"ev", "ok"}})
		close(next)
	}()
	return next
}

// startCmd runs one parsed command on its goroutine, after prev.
func startCmd(c *command, prev chan struct{}) chan struct{} {
	if c.Op == "connect" {
		f := &connFuture{done: make(chan struct{})}
		c.fut = f
		stateMu.Lock()
		latest = f
		stateMu.Unlock()
		next := make(chan struct{})
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer close(f.done)
			run(c, prev, next)
		}()
		return next
	}
	stateMu.Lock()
	c.fut = latest
	stateMu.Unlock()
	if c.Op == "flush" {
		flushOpened(*c.ID)
	}
	if c.Op == "exit" {
		emit(obj{{"id", *c.ID}, {"ev", "ok"}})
		shutdown()
	}
	next := make(chan struct{})
	inflight.Add(1)
	go func() {
		defer inflight.Done()
		run(c, prev, next)
	}()
	return next
}
