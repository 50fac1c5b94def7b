package region

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"testing"
	"time"
)

// newPairOpts creates a region in a temporary directory and opens it again
// in this process: side 0 and side 1 with one pid, enough to test the
// protocol without a second process.
func newPairOpts(t testing.TB, o Options) (a, b *Region) {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	a, err := Create(o)
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	t.Cleanup(func() { a.Close() })
	b, err = Open(a.Name(), Options{Dir: o.Dir, Spin: o.Spin})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

func newPair(t testing.TB) (a, b *Region) {
	return newPairOpts(t, Options{DataSlots: 16, ChunkSize: 64, Chunks: 8, PeerTimeout: time.Second})
}

// Stress payloads: a payload for sequence number seq is a whole number of
// 8-byte words, word i = mix(seq, i), so the receiver can check every byte
// (a torn or stale chunk cannot pass) and its checksum travels in the
// descriptor's Conn field (a torn descriptor cannot pass either).

func mix(seq uint64, i int) uint64 {
	x := seq*0x9e3779b97f4a7c15 + uint64(i)*0xbf58476d1ce4e5b9
	return x ^ x>>31
}

// payloadWords returns the payload length in words, 1..maxWords.
func payloadWords(seq uint64, maxWords int) int { return 1 + int(mix(seq, -1)%uint64(maxWords)) }

func fillPayload(b []byte, seq uint64) uint32 {
	var sum uint64
	for i := 0; i+8 <= len(b); i += 8 {
		w := mix(seq, i>>3)
		binary.LittleEndian.PutUint64(b[i:], w)
		sum = bits.RotateLeft64(sum, 5) ^ w
	}
	return uint32(sum) ^ uint32(sum>>32)
}

func checkPayload(b []byte, seq uint64, maxWords int, sum uint32) error {
	if want := 8 * payloadWords(seq, maxWords); len(b) != want {
		return fmt.Errorf("seq %d: payload of %d bytes, want %d", seq, len(b), want)
	}
	var got uint64
	for i := 0; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w != mix(seq, i>>3) {
			return fmt.Errorf("seq %d: word %d = %#x, want %#x (torn payload)", seq, i>>3, w, mix(seq, i>>3))
		}
		got = bits.RotateLeft64(got, 5) ^ w
	}
	if c := uint32(got) ^ uint32(got>>32); c != sum {
		return fmt.Errorf("seq %d: checksum %#x, descriptor says %#x", seq, c, sum)
	}
	return nil
}

// fnv1a is the checksum the C peer verifies.
func fnv1a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// eventually polls cond every few milliseconds until it holds or timeout
// passes. Timeouts in these tests are generous bounds, not measurements.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}
