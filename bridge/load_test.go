package bridge

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// clientLoad is n clients sending GETs in a loop, counting the 200s by
// the X-Pid of the host that answered, and keeping every failure.
type clientLoad struct {
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	byPid    map[string]int
	failures []string
}

// startLoad starts n clients; url(i) is the URL of a client's i-th request.
func startLoad(n int, url func(i int) string) *clientLoad {
	l := &clientLoad{stop: make(chan struct{}), byPid: map[string]int{}}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url(i))
				l.mu.Lock()
				switch {
				case err != nil:
					l.failures = append(l.failures, err.Error())
				case resp.StatusCode != 200:
					l.failures = append(l.failures, fmt.Sprintf("GET %s: %s", url(i), resp.Status))
				default:
					l.byPid[resp.Header.Get("X-Pid")]++
				}
				l.mu.Unlock()
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	return l
}

// served returns how many requests the host pid answered 200 so far.
func (l *clientLoad) served(pid int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byPid[strconv.Itoa(pid)]
}

// finish stops the clients, waits for them and returns the failures. It
// may be called again (deferred, for a test that failed first).
func (l *clientLoad) finish() []string {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures
}
