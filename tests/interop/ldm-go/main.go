// nats.go (1.22.1) and lame duck mode, run by `nm_interop_run --ldm`:
//
//	nm-interop-ldm-go URL_A URL_B PID_A
//
// connects with the server list A, B (in that order), checks it is on A and
// that a publish/subscribe round trip works, puts A in lame duck mode
// (SIGUSR2 to PID_A), then expects nats.LameDuckModeHandler, the reconnect
// handler (to B, once A closes the connection after its grace period) and a
// round trip on B through the subscription made on A. Every wait is bounded;
// exit 0 only when all of it happened.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// Bound of every wait (the grace period is 1 s).
const waitFor = 15 * time.Second

var failed bool

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	failed = true
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintf(os.Stderr, "usage: %s URL_A URL_B PID_A\n", os.Args[0])
		os.Exit(2)
	}
	urlA, urlB := os.Args[1], os.Args[2]
	pidA, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad pid %q\n", os.Args[3])
		os.Exit(2)
	}
	ldm := make(chan time.Time, 1)
	reconnected := make(chan time.Time, 1)
	msgs := make(chan struct{}, 16)
	nc, err := nats.Connect(urlA+","+urlB,
		nats.DontRandomize(),
		nats.ReconnectWait(100*time.Millisecond),
		nats.MaxReconnects(50),
		nats.LameDuckModeHandler(func(*nats.Conn) {
			select {
			case ldm <- time.Now():
			default:
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- time.Now():
			default:
			}
		}))
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: connect: %v\n", err)
		os.Exit(1)
	}
	defer nc.Close()
	if _, err := nc.Subscribe("ldm.check", func(*nats.Msg) { msgs <- struct{}{} }); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: subscribe: %v\n", err)
		os.Exit(1)
	}
	roundTrip := func(n int) bool {
		if err := nc.Publish("ldm.check", []byte("x")); err != nil {
			fail("publish %d: %v", n, err)
			return false
		}
		if err := nc.FlushTimeout(waitFor); err != nil {
			fail("flush %d: %v", n, err)
			return false
		}
		select {
		case <-msgs:
			return true
		case <-time.After(waitFor):
			fail("message %d not received", n)
			return false
		}
	}
	if nc.ConnectedUrl() != urlA {
		fail("connected to %s, not A (%s)", nc.ConnectedUrl(), urlA)
	}
	roundTrip(1)
	t0 := time.Now()
	if err := syscall.Kill(pidA, syscall.SIGUSR2); err != nil {
		fail("kill SIGUSR2: %v", err)
	}
	var tLDM, tRec time.Duration = -1, -1
	select {
	case t := <-ldm:
		tLDM = t.Sub(t0)
	case <-time.After(waitFor):
		fail("no lame duck handler call within %v", waitFor)
	}
	okB := false
	select {
	case t := <-reconnected:
		tRec = t.Sub(t0)
		if nc.ConnectedUrl() != urlB {
			fail("reconnected to %s, not B (%s)", nc.ConnectedUrl(), urlB)
		}
		okB = roundTrip(2)
	case <-time.After(waitFor):
		fail("no reconnect within %v (status %v)", waitFor, nc.Status())
	}
	fmt.Printf("nats.go: lame duck handler after %d ms, reconnected after %d ms to %s, round trip on B %v\n",
		tLDM.Milliseconds(), tRec.Milliseconds(), nc.ConnectedUrl(), okB)
	if failed {
		os.Exit(1)
	}
}
