// Goroutines and a WaitGroup: the Go runtime makes OS threads with clone
// and parks them on futexes. Built with CGO_ENABLED=0 (static).
package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sum, done := 0, 0
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mu.Lock()
			sum += i
			done++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	fmt.Printf("goroutines: %d done, sum %d\n", done, sum)
}
