package host

import (
	"errors"
	"fmt"
	"time"

	"github.com/haywireowin/haywire/region"
)

// streamChunks is how many BODY chunks one streamed response may have lent
// to the engine at once (include/haywire_bridge.h section 1): the engine
// gives each back once its bytes are on the client's socket, so a slow
// client holds at most this much of the host's arena.
const streamChunks = 8

// unlockSend unlocks sendMu, first telling writers waiting for chunks that
// Collect took some back.
func (h *Host) unlockSend() {
	var returned chan struct{}
	if h.collected && h.returned != nil {
		returned = h.returned
		h.returned = nil
	}
	h.collected = false
	h.sendMu.Unlock()
	if returned != nil {
		close(returned)
		if h.collectorSleeping.Load() {
			// The collector sleeps on the doorbell for releases that were
			// just taken by someone else: cut its sleep short.
			h.r.Wake()
		}
	}
}

// chunkReturned is the Sender's OnReturn: it runs inside Collect, under
// sendMu, for each chunk the engine gave back, and keeps the per-stream
// accounts of streamed responses. The host's own table says whose chunk
// it was: the stream the engine echoes in a release is not trusted.
func (h *Host) chunkReturned(off uint32) {
	h.collected = true
	i := off / uint32(h.r.Sender().ArenaGeometry().ChunkSize)
	if int(i) >= len(h.chunkStream) {
		return
	}
	id := h.chunkStream[i]
	if id == 0 {
		return
	}
	h.chunkStream[i] = 0
	if req := h.streams[id]; req != nil {
		req.bodyOut--
	}
}

// send publishes a response message, waiting for room in the ring and the
// arena. A message larger than a quarter of the ring or the arena goes in
// several batches (parts flagged FlagMore, the last FlagEnd), so a
// response of any size gets through while the engine takes the chunks.
func (h *Host) send(stream uint64, conn uint32, msg []byte) error {
	h.sendMu.Lock()
	defer h.unlockSend()
	snd := h.r.Sender()
	g := snd.ArenaGeometry()
	batch := max(1, min(snd.Capacity(), g.Chunks)/4) * g.ChunkSize
	for {
		part, flags := msg, region.FlagEnd
		if len(part) > batch {
			part, flags = msg[:batch], region.FlagMore
		}
		d := region.Descriptor{Kind: region.KindResponse, Flags: flags, Stream: stream, Conn: conn}
		if err := h.sendBatch(snd, d, part); err != nil {
			return err
		}
		if flags == region.FlagEnd {
			return nil
		}
		msg = msg[len(part):]
	}
}

// sendBatch sends one batch, with sendMu held, waiting for room while the
// engine lives.
func (h *Host) sendBatch(snd *region.Sender, d region.Descriptor, part []byte) error {
	for {
		err := snd.SendBytes(d, part)
		if err == nil {
			return nil
		}
		start := time.Now()
		switch {
		case errors.Is(err, region.ErrRingFull):
			err = snd.WaitSpace(time.Second, nil)
		case errors.Is(err, region.ErrArenaFull):
			err = h.waitReleasesLocked(snd)
		default:
			return err
		}
		if err != nil && !errors.Is(err, region.ErrTimeout) {
			return err
		}
		if time.Since(start) < 10*time.Microsecond {
			// Some room, not enough for the batch: let the engine catch up.
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// waitReleasesLocked waits, with sendMu held, for the engine to give
// chunks back. When a streamed writer already sleeps on the release
// doorbell (which has one sleeper) it cannot collect while we hold
// sendMu: we poll instead.
func (h *Host) waitReleasesLocked(snd *region.Sender) error {
	select {
	case <-h.collector:
		err := snd.WaitReleases(time.Second, nil)
		h.collector <- struct{}{}
		return err
	default:
		time.Sleep(200 * time.Microsecond)
		return h.peerErr()
	}
}

// sendControl publishes a descriptor without payload (CONTINUE, END,
// CANCEL) on a request's stream, waiting for room in the ring.
func (h *Host) sendControl(d region.Descriptor) error {
	h.sendMu.Lock()
	defer h.unlockSend()
	snd := h.r.Sender()
	for {
		ok, err := snd.Send(&d)
		if err != nil || ok {
			return err
		}
		if err := snd.WaitSpace(time.Second, nil); err != nil && !errors.Is(err, region.ErrTimeout) {
			return err
		}
	}
}

// collectSlice bounds one sleep on the release doorbell: a wake lost to
// the race between another goroutine's Collect and our sleep costs at
// most this.
const collectSlice = 20 * time.Millisecond

// awaitReturns waits, without sendMu, until chunks come back: returned
// is closed (someone else collected), or this goroutine, as the one
// sleeper on the release doorbell, sees releases to collect.
func (h *Host) awaitReturns(returned <-chan struct{}) error {
	select {
	case <-returned:
		return nil
	case <-h.collector:
	}
	defer func() { h.collector <- struct{}{} }()
	h.collectorSleeping.Store(true)
	err := h.r.Sender().WaitReleases(collectSlice, returned)
	h.collectorSleeping.Store(false)
	if err == nil || errors.Is(err, region.ErrStopped) || errors.Is(err, region.ErrTimeout) {
		return nil
	}
	return err
}

// putBody publishes the first bytes of p as BODY pieces of req's stream,
// as many chunks as its allowance and the arena permit, waiting until at
// least one can go. It returns how many bytes went.
func (h *Host) putBody(req *Request, p []byte) (int, error) {
	for {
		h.sendMu.Lock()
		snd := h.r.Sender()
		snd.Collect() // a faulty release is counted and skipped; the ring's state is checked below
		n, err := h.putBodyLocked(snd, req, p)
		var returned chan struct{}
		if n == 0 && err == nil {
			if h.returned == nil {
				h.returned = make(chan struct{})
			}
			returned = h.returned
		}
		h.unlockSend()
		if n > 0 || err != nil {
			return n, err
		}
		if err := h.awaitReturns(returned); err != nil {
			return 0, err
		}
	}
}

func (h *Host) putBodyLocked(snd *region.Sender, req *Request, p []byte) (int, error) {
	cs := snd.ArenaGeometry().ChunkSize
	free, _, _ := snd.Chunks()
	want := min((len(p)+cs-1)/cs, streamChunks-req.bodyOut, free)
	if want <= 0 {
		return 0, nil
	}
	k, err := snd.Reserve(want)
	if err != nil {
		return 0, err
	}
	if k == 0 {
		// The ring is full: the engine is behind on everything, not on
		// this stream; wait for a slot holding sendMu, as send does.
		err := snd.WaitSpace(time.Second, nil)
		if err != nil && !errors.Is(err, region.ErrTimeout) {
			return 0, err
		}
		if err == nil {
			return h.putBodyLocked(snd, req, p)
		}
		return 0, nil
	}
	sent := 0
	for i := range k {
		c, ok := snd.Alloc()
		if !ok { // cannot happen: free counted above
			snd.Commit(i)
			return sent, nil
		}
		m := copy(c.Buf, p[sent:])
		d := region.Descriptor{Kind: region.KindBody, Stream: req.id, Conn: req.conn, Offset: c.Offset,
			Length: uint32(m), Gen: c.Gen}
		if err := snd.Put(i, &d); err != nil {
			snd.Free(c)
			snd.Commit(i)
			return sent, err
		}
		h.chunkStream[c.Offset/uint32(cs)] = req.id
		req.bodyOut++
		sent += m
	}
	snd.Commit(k)
	return sent, nil
}

// peerErr says why the engine will take nothing more, or nil.
func (h *Host) peerErr() error {
	if h.r.CreatorClosed() {
		return region.ErrPeerGone
	}
	switch p := h.r.Peer(); p.State {
	case region.PeerDead:
		return fmt.Errorf("%w: %s", region.ErrPeerDead, p.Reason)
	case region.PeerGone:
		return region.ErrPeerGone
	}
	return nil
}
