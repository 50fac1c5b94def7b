package ringbuf_test

import (
	"encoding/binary"
	"fmt"

	"github.com/haywireowin/haywire/ringbuf"
)

func Example() {
	g := ringbuf.Geometry{SlotSize: 16, SlotCount: 8}
	buf := make([]byte, g.Length()) // or a slice of a shared mapping
	if err := ringbuf.Init(buf, g); err != nil {
		panic(err)
	}
	p, _ := ringbuf.NewProducer(buf) // usually in one process...
	c, _ := ringbuf.NewConsumer(buf) // ...and this in another

	// Produce a batch of three: write the slots, then publish them at once.
	n, _ := p.Reserve(3)
	for i := range n {
		binary.LittleEndian.PutUint64(p.Slot(i), uint64(100+i))
	}
	p.Commit(n)

	// Consume whatever is there.
	n, _ = c.Available(64)
	for i := range n {
		fmt.Println(binary.LittleEndian.Uint64(c.Slot(i)))
	}
	c.Consume(n)
	// Output:
	// 100
	// 101
	// 102
}
