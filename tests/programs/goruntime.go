// What Go's runtime asks of a kernel beyond threads and futexes: its
// netpoller (epoll_create1, epoll_ctl, epoll_pwait, and a pipe or an
// eventfd to break a wait) behind timers, sleeps and os.Pipe; and
// asynchronous preemption (tgkill of SIGURG to the thread running a
// goroutine that never yields). Prints the same on the host and in the
// guest. Built with CGO_ENABLED=0 (static).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

func main() {
	// A timer and a sleep: the netpoller's timed wait.
	start := time.Now()
	time.Sleep(5 * time.Millisecond)
	<-time.After(5 * time.Millisecond)
	fmt.Println("timers: slept at least 10 ms:", time.Since(start) >= 10*time.Millisecond)

	// A ticker and a select with a timeout.
	tick := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	timeout := time.After(2 * time.Second)
loop:
	for {
		select {
		case <-tick.C:
			ticks++
			if ticks == 5 {
				break loop
			}
		case <-timeout:
			break loop
		}
	}
	tick.Stop()
	fmt.Println("ticker: ticks", ticks)

	// os.Pipe: non-blocking descriptors parked in the netpoller.
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println("pipe:", err)
		os.Exit(1)
	}
	go func() {
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, "line %03d of the pipe, padded to be long enough to fill it\n", i)
		}
		w.Close()
	}()
	b, err := io.ReadAll(r)
	fmt.Println("pipe: read", len(b), "bytes, err", err)

	// Preemption: with one P, main runs again only if the spinner is
	// preempted asynchronously (a signal to its thread).
	runtime.GOMAXPROCS(1)
	var spins int64
	go func() {
		for {
			atomic.AddInt64(&spins, 1)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	fmt.Println("preemption: main ran again while a goroutine spun:", atomic.LoadInt64(&spins) > 0)
}
