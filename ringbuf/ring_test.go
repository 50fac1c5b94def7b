package ringbuf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// newRing returns a heap buffer formatted as a ring.
func newRing(t testing.TB, slotSize, slots int) []byte {
	t.Helper()
	g := Geometry{SlotSize: slotSize, SlotCount: slots}
	buf := make([]byte, g.Length())
	if err := Init(buf, g); err != nil {
		t.Fatalf("Init(%+v) = %v; want nil", g, err)
	}
	return buf
}

func newPair(t testing.TB, slotSize, slots int) (*Producer, *Consumer, []byte) {
	t.Helper()
	buf := newRing(t, slotSize, slots)
	p, err := NewProducer(buf)
	if err != nil {
		t.Fatalf("NewProducer = %v; want nil", err)
	}
	c, err := NewConsumer(buf)
	if err != nil {
		t.Fatalf("NewConsumer = %v; want nil", err)
	}
	return p, c, buf
}

func TestGeometryCheck(t *testing.T) {
	tests := []struct {
		g    Geometry
		want error
	}{
		{Geometry{8, 2}, nil},
		{Geometry{32, 4096}, nil},
		{Geometry{MaxSlotSize, MaxSlots}, nil},
		{Geometry{4, 16}, ErrGeometry},
		{Geometry{24, 16}, ErrGeometry},
		{Geometry{2 * MaxSlotSize, 16}, ErrGeometry},
		{Geometry{32, 1}, ErrGeometry},
		{Geometry{32, 3}, ErrGeometry},
		{Geometry{32, 2 * MaxSlots}, ErrGeometry},
		{Geometry{32, 0}, ErrGeometry},
		{Geometry{-32, 4}, ErrGeometry},
	}
	for _, tt := range tests {
		if got := tt.g.Check(); !errors.Is(got, tt.want) {
			t.Errorf("%+v.Check() = %v; want %v", tt.g, got, tt.want)
		}
	}
}

func TestInitRejects(t *testing.T) {
	g := Geometry{SlotSize: 32, SlotCount: 8}
	big := make([]byte, g.Length()+8)
	tests := []struct {
		name string
		buf  []byte
		g    Geometry
		want error
	}{
		{"short", make([]byte, g.Length()-1), g, ErrShort},
		{"misaligned", big[1 : 1+g.Length()], g, ErrAlignment},
		{"bad geometry", big, Geometry{SlotSize: 32, SlotCount: 6}, ErrGeometry},
	}
	for _, tt := range tests {
		if got := Init(tt.buf, tt.g); !errors.Is(got, tt.want) {
			t.Errorf("%s: Init = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestAttachValidation corrupts one field of a valid control block at a time
// and checks that both ends refuse to attach with the right error, and that
// the message carries the offending value.
func TestAttachValidation(t *testing.T) {
	const slotSize, slots = 32, 8
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	put64 := func(off int, v uint64) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
	}
	both := func(fs ...func([]byte)) func([]byte) {
		return func(b []byte) {
			for _, f := range fs {
				f(b)
			}
		}
	}
	tests := []struct {
		name    string
		corrupt func([]byte)
		trim    int // bytes cut from the end
		want    error
		inMsg   string
	}{
		{"valid", func([]byte) {}, 0, nil, ""},
		{"magic", put32(MagicOffset, 0xdeadbeef), 0, ErrMagic, "0xdeadbeef"},
		{"zero magic", put32(MagicOffset, 0), 0, ErrMagic, "0x000000"},
		{"slot size not pow2", put32(SlotSizeOffset, 48), 0, ErrGeometry, "slot size 48"},
		{"slot size too big", put32(SlotSizeOffset, 1<<20), 0, ErrGeometry, "slot size 1048576"},
		{"slot count not pow2", put32(SlotCountOffset, 7), 0, ErrGeometry, "slot count 7"},
		{"slot count huge", put32(SlotCountOffset, 1<<31), 0, ErrGeometry, "slot count 2147483648"},
		{"flags", put32(FlagsOffset, 1), 0, ErrGeometry, "flags 0x1"},
		{"truncated slots", func([]byte) {}, 1, ErrShort, "need"},
		{"geometry larger than buffer", put32(SlotCountOffset, 16), 0, ErrShort, "16 slots"},
		{"tail behind head", both(put64(HeadOffset, 5), put64(TailOffset, 4)), 0, ErrCorrupt, "head 5, tail 4"},
		{"tail too far ahead", put64(TailOffset, slots+1), 0, ErrCorrupt, "tail 9"},
		{"full is fine", both(put64(HeadOffset, 100), put64(TailOffset, 100+slots)), 0, nil, ""},
		{"huge indices", both(put64(HeadOffset, ^uint64(0)-1), put64(TailOffset, ^uint64(0))), 0, nil, ""},
	}
	for _, tt := range tests {
		buf := newRing(t, slotSize, slots)
		tt.corrupt(buf)
		buf = buf[:len(buf)-tt.trim]
		_, perr := NewProducer(buf)
		_, cerr := NewConsumer(buf)
		for _, got := range []error{perr, cerr} {
			if !errors.Is(got, tt.want) {
				t.Errorf("%s: attach = %v; want %v", tt.name, got, tt.want)
			} else if got != nil && !strings.Contains(got.Error(), tt.inMsg) {
				t.Errorf("%s: attach = %q; want it to mention %q", tt.name, got, tt.inMsg)
			}
		}
	}
	if _, err := NewProducer(make([]byte, HeaderLength-1)); !errors.Is(err, ErrShort) {
		t.Errorf("NewProducer(short) = %v; want %v", err, ErrShort)
	}
	b := newRing(t, slotSize, slots)
	if _, err := NewConsumer(append(make([]byte, 0, len(b)+1), append([]byte{0}, b...)...)[1:]); !errors.Is(err, ErrAlignment) {
		t.Errorf("NewConsumer(misaligned) = %v; want %v", err, ErrAlignment)
	}
}

func TestFullAndEmpty(t *testing.T) {
	p, c, _ := newPair(t, 8, 4)
	if n, err := c.Available(10); n != 0 || err != nil {
		t.Fatalf("empty: Available(10) = %d, %v; want 0, nil", n, err)
	}
	for i := range 4 {
		if ok, err := p.Offer([]byte{byte(i)}); !ok || err != nil {
			t.Fatalf("Offer #%d = %v, %v; want true, nil", i, ok, err)
		}
	}
	if ok, err := p.Offer([]byte{9}); ok || err != nil {
		t.Fatalf("full: Offer = %v, %v; want false, nil", ok, err)
	}
	if n, err := p.Reserve(1); n != 0 || err != nil {
		t.Fatalf("full: Reserve(1) = %d, %v; want 0, nil", n, err)
	}
	if n, err := c.Available(10); n != 4 || err != nil {
		t.Fatalf("full: Available(10) = %d, %v; want 4, nil", n, err)
	}
	if n, err := p.Remaining(); n != 0 || err != nil {
		t.Fatalf("full: Remaining = %d, %v; want 0, nil", n, err)
	}
	c.Consume(1)
	if n, err := p.Remaining(); n != 1 || err != nil {
		t.Fatalf("one free: Remaining = %d, %v; want 1, nil", n, err)
	}
	if n, err := p.Reserve(3); n != 1 || err != nil {
		t.Fatalf("one free: Reserve(3) = %d, %v; want 1, nil", n, err)
	}
	p.Slot(0)[0] = 7
	if n, _ := p.Remaining(); n != 1 {
		t.Fatalf("Remaining during a reservation = %d; want 1", n)
	}
	p.Slot(0)[0] = 8 // the reservation survived Remaining
	p.Commit(1)
}

// TestWrapAround pushes many more messages than slots through a small ring
// one at a time and checks order, content and positions across each wrap.
func TestWrapAround(t *testing.T) {
	for _, slots := range []int{2, 4, 8} {
		p, c, _ := newPair(t, 16, slots)
		msg := make([]byte, 16)
		for i := range uint64(10 * slots) {
			binary.LittleEndian.PutUint64(msg, i)
			binary.LittleEndian.PutUint64(msg[8:], ^i)
			if ok, err := p.Offer(msg); !ok || err != nil {
				t.Fatalf("slots=%d: Offer(%d) = %v, %v; want true, nil", slots, i, ok, err)
			}
			if n, err := c.Available(1); n != 1 || err != nil {
				t.Fatalf("slots=%d: Available(1) = %d, %v; want 1, nil", slots, n, err)
			}
			s := c.Slot(0)
			if got0, got1 := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:]); got0 != i || got1 != ^i {
				t.Fatalf("slots=%d: message %d = %d/%x; want %d/%x", slots, i, got0, got1, i, ^i)
			}
			c.Consume(1)
			if p.Position() != i+1 || c.Position() != i+1 {
				t.Fatalf("slots=%d: positions = %d, %d; want %d", slots, p.Position(), c.Position(), i+1)
			}
		}
	}
}

// TestBatchBoundaries moves batches whose sizes straddle the end of the slot
// array and the capacity, in every phase of a 8-slot ring.
func TestBatchBoundaries(t *testing.T) {
	const slots = 8
	for start := range slots {
		for batch := 1; batch <= slots+2; batch++ {
			p, c, _ := newPair(t, 8, slots)
			// Advance both indices to the phase under test.
			for range start {
				p.Offer(nil)
				c.Available(1)
				c.Consume(1)
			}
			n, err := p.Reserve(batch)
			want := min(batch, slots)
			if n != want || err != nil {
				t.Fatalf("start=%d: Reserve(%d) = %d, %v; want %d, nil", start, batch, n, err, want)
			}
			for i := range n {
				binary.LittleEndian.PutUint64(p.Slot(i), uint64(start+i))
			}
			p.Commit(n)
			got, err := c.Available(batch + 1)
			if got != n || err != nil {
				t.Fatalf("start=%d batch=%d: Available = %d, %v; want %d, nil", start, batch, got, err, n)
			}
			for i := range got {
				if v := binary.LittleEndian.Uint64(c.Slot(i)); v != uint64(start+i) {
					t.Fatalf("start=%d batch=%d: slot %d = %d; want %d", start, batch, i, v, start+i)
				}
			}
			c.Consume(got)
			if n, _ := c.Available(1); n != 0 {
				t.Fatalf("start=%d batch=%d: Available after drain = %d; want 0", start, batch, n)
			}
		}
	}
}

func TestWriteRead(t *testing.T) {
	p, c, _ := newPair(t, 8, 8)
	src := make([]byte, 8*11)
	for i := range 11 {
		binary.LittleEndian.PutUint64(src[8*i:], uint64(i))
	}
	n, err := p.Write(src)
	if n != 8 || err != nil {
		t.Fatalf("Write(11 slots) = %d, %v; want 8, nil", n, err)
	}
	dst := make([]byte, 8*3)
	var got []uint64
	for {
		n, err := c.Read(dst)
		if err != nil {
			t.Fatalf("Read = %v", err)
		}
		if n == 0 {
			break
		}
		for i := range n {
			got = append(got, binary.LittleEndian.Uint64(dst[8*i:]))
		}
	}
	if fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("Read = %v; want [0 1 2 3 4 5 6 7]", got)
	}
	if n, err := p.Write(src[8*8:]); n != 3 || err != nil {
		t.Fatalf("Write(3 slots) = %d, %v; want 3, nil", n, err)
	}
}

// TestCachedIndex checks that each side reloads the other's index only when
// the ring looks full or empty: a stale cache must not hide published slots
// forever, and must not be consulted when it already suffices.
func TestCachedIndex(t *testing.T) {
	p, c, buf := newPair(t, 8, 4)
	p.Offer(nil)
	p.Offer(nil)
	if n, _ := c.Available(4); n != 2 {
		t.Fatalf("Available = %d; want 2", n)
	}
	p.Offer(nil)
	// Two slots are still cached as available: no reload, so still 2.
	if n, _ := c.Available(4); n != 2 {
		t.Fatalf("Available with cached slots = %d; want 2 (cache not reloaded)", n)
	}
	c.Consume(2)
	if n, _ := c.Available(4); n != 1 {
		t.Fatalf("Available after drain = %d; want 1 (cache reloaded)", n)
	}
	// Corrupting head is only noticed when the producer needs to reload.
	binary.LittleEndian.PutUint64(buf[HeadOffset:], 1000)
	if n, err := p.Reserve(1); n != 1 || err != nil {
		t.Fatalf("Reserve(1) with room cached = %d, %v; want 1, nil", n, err)
	}
	if n, err := p.Reserve(4); n != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Reserve(4) with corrupt head = %d, %v; want 0, %v", n, err, ErrCorrupt)
	}
}

// TestCorruptIndex changes an index behind one side's back, the way a faulty
// peer could, and checks that the side reports ErrCorrupt instead of reading
// or overwriting slots it does not own.
func TestCorruptIndex(t *testing.T) {
	tests := []struct {
		name  string
		setup func(p *Producer, c *Consumer) // state before corruption
		off   int
		val   uint64
		check func(p *Producer, c *Consumer) (int, error)
		inMsg string
	}{
		{
			name:  "head beyond tail",
			setup: func(p *Producer, c *Consumer) { fill(p, 4) },
			off:   HeadOffset, val: 5,
			check: func(p *Producer, c *Consumer) (int, error) { return p.Reserve(1) },
			inMsg: "head 5",
		},
		{
			name: "head went backwards",
			setup: func(p *Producer, c *Consumer) {
				fill(p, 4)
				drain(c, 4)
				p.Reserve(4) // caches head 4
				fill(p, 4)
			},
			off: HeadOffset, val: 3,
			check: func(p *Producer, c *Consumer) (int, error) { return p.Reserve(1) },
			inMsg: "head 3",
		},
		{
			name:  "tail beyond capacity",
			setup: func(p *Producer, c *Consumer) {},
			off:   TailOffset, val: 5,
			check: func(p *Producer, c *Consumer) (int, error) { return c.Available(1) },
			inMsg: "tail 5",
		},
		{
			name: "tail went backwards",
			setup: func(p *Producer, c *Consumer) {
				fill(p, 3)
				drain(c, 3)
			},
			off: TailOffset, val: 2,
			check: func(p *Producer, c *Consumer) (int, error) { return c.Available(1) },
			inMsg: "tail 2",
		},
		{
			name:  "tail wrapped to zero",
			setup: func(p *Producer, c *Consumer) { fill(p, 2); drain(c, 2) },
			off:   TailOffset, val: ^uint64(0),
			check: func(p *Producer, c *Consumer) (int, error) { return c.Available(1) },
			inMsg: "tail 18446744073709551615",
		},
	}
	for _, tt := range tests {
		p, c, buf := newPair(t, 8, 4)
		tt.setup(p, c)
		binary.LittleEndian.PutUint64(buf[tt.off:], tt.val)
		n, err := tt.check(p, c)
		if n != 0 || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %d, %v; want 0, %v", tt.name, n, err, ErrCorrupt)
		} else if !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: error %q; want it to mention %q", tt.name, err, tt.inMsg)
		}
	}
}

func fill(p *Producer, n int) {
	for range n {
		if ok, err := p.Offer(nil); !ok || err != nil {
			panic(fmt.Sprintf("fill: Offer = %v, %v", ok, err))
		}
	}
}

func drain(c *Consumer, n int) {
	if got, err := c.Available(n); got != n || err != nil {
		panic(fmt.Sprintf("drain: Available(%d) = %d, %v", n, got, err))
	}
	c.Consume(n)
}

func TestReclaim(t *testing.T) {
	// Consumer died with 3 of 5 published slots unconsumed.
	p, c, buf := newPair(t, 8, 8)
	fill(p, 5)
	drain(c, 2)
	if n, err := p.Reclaim(); n != 3 || err != nil {
		t.Fatalf("Producer.Reclaim = %d, %v; want 3, nil", n, err)
	}
	c2, err := NewConsumer(buf)
	if err != nil {
		t.Fatalf("NewConsumer after reclaim = %v", err)
	}
	if n, _ := c2.Available(8); n != 0 || c2.Position() != 5 {
		t.Fatalf("fresh consumer: Available = %d at %d; want 0 at 5", n, c2.Position())
	}
	if n, _ := p.Reserve(8); n != 8 {
		t.Fatalf("Reserve after reclaim = %d; want 8", n)
	}

	// Producer died with 4 published slots unconsumed.
	p, c, buf = newPair(t, 8, 8)
	fill(p, 4)
	if n, err := c.Reclaim(); n != 4 || err != nil {
		t.Fatalf("Consumer.Reclaim = %d, %v; want 4, nil", n, err)
	}
	p2, err := NewProducer(buf)
	if err != nil || p2.Position() != 4 {
		t.Fatalf("fresh producer at %d, %v; want 4, nil", p2.Position(), err)
	}

	// Producer died leaving a corrupt tail: Reclaim repairs it.
	p, c, buf = newPair(t, 8, 8)
	fill(p, 2)
	drain(c, 1)
	binary.LittleEndian.PutUint64(buf[TailOffset:], 999)
	if n, err := c.Reclaim(); n != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Consumer.Reclaim(corrupt tail) = %d, %v; want 0, %v", n, err, ErrCorrupt)
	}
	if _, err := NewProducer(buf); err != nil {
		t.Fatalf("NewProducer after repair = %v; want nil", err)
	}

	// Consumer died leaving a corrupt head: Reclaim resets it anyway.
	p, _, buf = newPair(t, 8, 8)
	fill(p, 3)
	binary.LittleEndian.PutUint64(buf[HeadOffset:], 77)
	if n, err := p.Reclaim(); n != 3 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Producer.Reclaim(corrupt head) = %d, %v; want 3, %v", n, err, ErrCorrupt)
	}
	if _, err := NewConsumer(buf); err != nil {
		t.Fatalf("NewConsumer after repair = %v; want nil", err)
	}
}

func TestMisusePanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(p *Producer, c *Consumer)
	}{
		{"Slot without Reserve", func(p *Producer, c *Consumer) { p.Slot(0) }},
		{"Slot beyond reservation", func(p *Producer, c *Consumer) { p.Reserve(2); p.Slot(2) }},
		{"Commit beyond reservation", func(p *Producer, c *Consumer) { p.Reserve(1); p.Commit(2) }},
		{"Offer too long", func(p *Producer, c *Consumer) { p.Offer(make([]byte, 9)) }},
		{"Write partial slot", func(p *Producer, c *Consumer) { p.Write(make([]byte, 9)) }},
		{"Consumer.Slot on empty", func(p *Producer, c *Consumer) { c.Slot(0) }},
		{"Consume beyond published", func(p *Producer, c *Consumer) { fill(p, 1); c.Available(1); c.Consume(2) }},
		{"Consumer.Slot negative", func(p *Producer, c *Consumer) { fill(p, 1); c.Available(1); c.Slot(-1) }},
	}
	for _, tt := range tests {
		p, c, _ := newPair(t, 8, 4)
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic; want one", tt.name)
				}
			}()
			tt.f(p, c)
		}()
	}
}

// TestConcurrentHeap runs a producer and a consumer goroutine over a heap
// buffer. Under -race the detector checks that the index stores order the
// plain slot writes before the plain slot reads.
func TestConcurrentHeap(t *testing.T) {
	n := uint64(2_000_000)
	if raceEnabled || testing.Short() {
		n = 300_000
	}
	buf := newRing(t, 16, 64)
	runConcurrent(t, buf, n)
}

// runConcurrent moves n sequence-numbered, checksummed messages in random
// batch sizes and fails on any loss, duplicate, reordering or torn slot.
func runConcurrent(t *testing.T, buf []byte, n uint64) {
	t.Helper()
	p, err := NewProducer(buf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(buf)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	perr := make(chan error, 1)
	go func() {
		defer wg.Done()
		rng := uint64(1)
		for seq := uint64(0); seq < n; {
			rng = rng*6364136223846793005 + 1442695040888963407
			want := int(rng>>59) + 1 // 1..32
			k, err := p.Reserve(want)
			if err != nil {
				perr <- err
				return
			}
			for i := range k {
				s := p.Slot(i)
				v := seq + uint64(i)
				binary.LittleEndian.PutUint64(s, v)
				binary.LittleEndian.PutUint64(s[8:], v*0x9e3779b97f4a7c15)
			}
			p.Commit(k)
			seq += uint64(k)
		}
		perr <- nil
	}()
	for seq := uint64(0); seq < n; {
		k, err := c.Available(17)
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			s := c.Slot(i)
			v, sum := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
			if v != seq || sum != v*0x9e3779b97f4a7c15 {
				t.Fatalf("message %d: got seq %d sum %x; want seq %d sum %x", seq, v, sum, seq, seq*0x9e3779b97f4a7c15)
			}
			seq++
		}
		c.Consume(k)
	}
	wg.Wait()
	if err := <-perr; err != nil {
		t.Fatal(err)
	}
}

// TestIndexWrap64 starts both indices just below 2^64 and checks that the
// ring keeps working across the wrap of the counters themselves.
func TestIndexWrap64(t *testing.T) {
	buf := newRing(t, 8, 4)
	start := ^uint64(0) - 5
	binary.LittleEndian.PutUint64(buf[HeadOffset:], start)
	binary.LittleEndian.PutUint64(buf[TailOffset:], start)
	p, err := NewProducer(buf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(20) {
		n, err := p.Reserve(3)
		if n != 3 || err != nil {
			t.Fatalf("step %d: Reserve(3) = %d, %v; want 3, nil", i, n, err)
		}
		for k := range n {
			binary.LittleEndian.PutUint64(p.Slot(k), 3*i+uint64(k))
		}
		p.Commit(n)
		if n, err := c.Available(4); n != 3 || err != nil {
			t.Fatalf("step %d: Available = %d, %v; want 3, nil", i, n, err)
		}
		for k := range 3 {
			if v := binary.LittleEndian.Uint64(c.Slot(k)); v != 3*i+uint64(k) {
				t.Fatalf("step %d: slot %d = %d; want %d", i, k, v, 3*i+uint64(k))
			}
		}
		c.Consume(3)
	}
	if got, want := c.Position(), start+60; got != want {
		t.Fatalf("Position = %d; want %d (wrapped)", got, want)
	}
}
