package monitor

import "sync"

// fanOut calls f(0) to f(n-1), at most limit at a time (1 when limit < 1),
// and returns when all have returned. It is the monitor's one bounded
// fan-out: the keys of an event and the keys of a sweep.
func fanOut(n, limit int, f func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}
