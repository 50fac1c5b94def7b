package region_test

import (
	"fmt"
	"os"
	"time"

	"github.com/haywireowin/haywire/region"
)

// Both sides live in one process here; normally the engine creates the
// region and a host process opens it by name.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	engine, err := region.Create(region.Options{Dir: dir, ChunkSize: 64, Chunks: 16})
	if err != nil {
		panic(err)
	}
	defer engine.Close()
	host, err := region.Open(engine.Name(), region.Options{Dir: dir})
	if err != nil {
		panic(err)
	}
	defer host.Close()

	// The engine copies a request into its arena (two chunks: it is
	// longer than 64 bytes) and publishes the descriptors.
	req := []byte("GET /hello HTTP/1.1\r\nHost: example.com\r\nUser-Agent: haywire-example\r\n\r\n")
	err = engine.Sender().SendBytes(region.Descriptor{Kind: region.KindRequest, Flags: region.FlagEnd, Stream: 1, Conn: 9}, req)
	if err != nil {
		panic(err)
	}

	// The host reads the request in place and releases the chunks.
	rc := host.Receiver()
	if err := rc.Wait(time.Second, nil); err != nil {
		panic(err)
	}
	var got []byte
	for done := false; !done; {
		n, _ := rc.Poll(16)
		for i := range n {
			d, err := rc.Get(i)
			if err != nil {
				panic(err)
			}
			got = append(got, rc.Payload(&d)...)
			done = d.Flags&region.FlagEnd != 0
			rc.Release(&d)
		}
		rc.Consume(n)
	}
	fmt.Printf("%d bytes, first line %q\n", len(got), got[:19])

	// The engine takes its chunks back.
	n, _ := engine.Sender().Collect()
	fmt.Println("chunks returned:", n)
	// Output:
	// 71 bytes, first line "GET /hello HTTP/1.1"
	// chunks returned: 2
}
