package region

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/haywireowin/haywire/region/arena"
)

// Descriptor layout, one ring slot (32 bytes):
//
//	0      1       2              4              8                             16
//	+------+-------+--------------+--------------+-----------------------------+
//	| kind | flags | aux (u16)    | epoch (u32)  | stream (u64)                |
//	+------+-------+--------------+--------------+-----------------------------+
//	16             20             24             28             32
//	+--------------+--------------+--------------+--------------+
//	| conn (u32)   | offset (u32) | length (u32) | gen (u32)    |
//	+--------------+--------------+--------------+--------------+
//
// kind says what the descriptor is (Kind*); flags qualify it (Flag*); aux is
// kind-specific (Cancel: a reason code; zero otherwise unless a kind says).
// epoch names the incarnation of the side that owns the chunk (the sender
// for data, the receiver for Release) or, without a chunk, of the sender.
// stream identifies the request or duplex stream, conn the client
// connection. offset and length locate the payload in the owner's arena:
// length > 0 means [offset, offset+length) lies inside one chunk and gen is
// that chunk's generation, which a Release must echo; length == 0 means no
// chunk, and then offset and gen are 0.
const (
	DescriptorSize = 32

	DescKindOffset   = 0
	DescFlagsOffset  = DescKindOffset + 1
	DescAuxOffset    = DescFlagsOffset + 1
	DescEpochOffset  = DescAuxOffset + 2
	DescStreamOffset = DescEpochOffset + 4
	DescConnOffset   = DescStreamOffset + 8
	DescOffsetOffset = DescConnOffset + 4
	DescLengthOffset = DescOffsetOffset + 4
	DescGenOffset    = DescLengthOffset + 4
	descEnd          = DescGenOffset + 4
)

// Kind is what a descriptor carries.
type Kind uint8

// Descriptor kinds. New kinds need a new layout version: a receiver rejects
// kinds it does not know rather than guessing whether it may skip them.
const (
	KindInvalid  Kind = 0 // never valid: a zeroed slot is rejected
	KindRequest  Kind = 1 // request head (engine -> host); payload required
	KindBody     Kind = 2 // body bytes of a stream, either direction; payload required
	KindEnd      Kind = 3 // end of a stream's body in this direction; no payload
	KindCancel   Kind = 4 // abort the stream (client gone, host gave up); no payload; aux = reason
	KindResponse Kind = 5 // response head (host -> engine); payload required
	KindRelease  Kind = 6 // give a chunk back to its owner; release rings only
	KindUpgrade  Kind = 7 // the stream becomes a duplex byte stream (after 101); payload optional
	KindData     Kind = 8 // duplex stream bytes after an upgrade; payload required
	KindNop      Kind = 9 // nothing; receivers skip it (keep-alive, tests, benchmarks)
	// KindContinue (host -> engine) asks for a request body the engine
	// holds back until the host reads it (Expect: 100-continue); no payload.
	KindContinue Kind = 10
	numKinds          = 11
)

var kindNames = [numKinds]string{"invalid", "request", "body", "end", "cancel", "response", "release", "upgrade", "data", "nop", "continue"}

// String returns the kind's name, or kind(N) for an unknown one.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Flags qualify a descriptor.
type Flags uint8

const (
	// FlagEnd marks the last part of a message (haywire_shm.h section 5,
	// "Flags"): on a Request or Response, the last part of the request
	// view or response message, which ends the message, not the stream
	// (the message says whether a body follows); on a Body (or Data), the
	// last piece of the body, as if an End descriptor followed it.
	FlagEnd Flags = 1 << 0
	// FlagMore marks a payload continued by the next descriptor of the same
	// stream (a message longer than one chunk); the last part has it clear.
	FlagMore Flags = 1 << 1
	// FlagsKnown are all defined flags; the others must be zero.
	FlagsKnown = FlagEnd | FlagMore
)

// Per-kind rules: whether a chunk is required, forbidden or optional, and
// which flags are allowed.
const (
	payloadNone = iota
	payloadRequired
	payloadOptional
	payloadChunkRef // Release: names a chunk (offset, gen) with length 0
)

var kindRules = [numKinds]struct {
	payload int
	flags   Flags
	aux     bool // aux may be non-zero
}{
	KindRequest:  {payloadRequired, FlagEnd | FlagMore, false},
	KindBody:     {payloadRequired, FlagEnd | FlagMore, false},
	KindEnd:      {payloadNone, 0, false},
	KindCancel:   {payloadNone, 0, true},
	KindResponse: {payloadRequired, FlagEnd | FlagMore, false},
	KindRelease:  {payloadChunkRef, 0, false},
	KindUpgrade:  {payloadOptional, FlagMore, false},
	KindData:     {payloadRequired, FlagEnd | FlagMore, false},
	KindNop:      {payloadNone, 0, false},
	KindContinue: {payloadNone, 0, false},
}

// Descriptor is the decoded form of a ring slot. See the layout above.
type Descriptor struct {
	Kind   Kind
	Flags  Flags
	Aux    uint16
	Epoch  uint32
	Stream uint64
	Conn   uint32
	Offset uint32
	Length uint32
	Gen    uint32
}

// descWire mirrors the wire layout for the compile-time checks below.
type descWire struct {
	kind   uint8
	flags  uint8
	aux    uint16
	epoch  uint32
	stream uint64
	conn   uint32
	offset uint32
	length uint32
	gen    uint32
}

var (
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.flags)-DescFlagsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.aux)-DescAuxOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.epoch)-DescEpochOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.stream)-DescStreamOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.conn)-DescConnOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.offset)-DescOffsetOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.length)-DescLengthOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(descWire{}.gen)-DescGenOffset]
	_ = [1]struct{}{}[unsafe.Sizeof(descWire{})-DescriptorSize]
	_ = [1]struct{}{}[descEnd-DescriptorSize]
)

// Encode writes d into b, which must be at least DescriptorSize bytes. It
// does not validate d.
func (d *Descriptor) Encode(b []byte) {
	_ = b[DescriptorSize-1]
	b[DescKindOffset] = byte(d.Kind)
	b[DescFlagsOffset] = byte(d.Flags)
	binary.LittleEndian.PutUint16(b[DescAuxOffset:], d.Aux)
	binary.LittleEndian.PutUint32(b[DescEpochOffset:], d.Epoch)
	binary.LittleEndian.PutUint64(b[DescStreamOffset:], d.Stream)
	binary.LittleEndian.PutUint32(b[DescConnOffset:], d.Conn)
	binary.LittleEndian.PutUint32(b[DescOffsetOffset:], d.Offset)
	binary.LittleEndian.PutUint32(b[DescLengthOffset:], d.Length)
	binary.LittleEndian.PutUint32(b[DescGenOffset:], d.Gen)
}

// DecodeDescriptor decodes and validates the descriptor at the start of b
// against the per-kind rules: known kind, known flags allowed for that kind,
// aux only where the kind uses it, epoch non-zero, and a chunk (length > 0,
// gen != 0) exactly where the kind requires one. It does not check the span
// against an arena; see CheckSpan. Errors wrap ErrDescriptor.
func DecodeDescriptor(b []byte) (Descriptor, error) {
	if len(b) < DescriptorSize {
		return Descriptor{}, fmt.Errorf("%w: %d bytes, need %d", ErrDescriptor, len(b), DescriptorSize)
	}
	d := Descriptor{
		Kind:   Kind(b[DescKindOffset]),
		Flags:  Flags(b[DescFlagsOffset]),
		Aux:    binary.LittleEndian.Uint16(b[DescAuxOffset:]),
		Epoch:  binary.LittleEndian.Uint32(b[DescEpochOffset:]),
		Stream: binary.LittleEndian.Uint64(b[DescStreamOffset:]),
		Conn:   binary.LittleEndian.Uint32(b[DescConnOffset:]),
		Offset: binary.LittleEndian.Uint32(b[DescOffsetOffset:]),
		Length: binary.LittleEndian.Uint32(b[DescLengthOffset:]),
		Gen:    binary.LittleEndian.Uint32(b[DescGenOffset:]),
	}
	return d, d.Validate()
}

// Validate applies the checks of DecodeDescriptor to d.
func (d *Descriptor) Validate() error {
	if d.Kind == KindInvalid || int(d.Kind) >= numKinds {
		return fmt.Errorf("%w: unknown kind %d", ErrDescriptor, d.Kind)
	}
	rule := kindRules[d.Kind]
	if d.Flags&^rule.flags != 0 {
		return fmt.Errorf("%w: %v with flags %#x (allowed %#x)", ErrDescriptor, d.Kind, d.Flags, rule.flags)
	}
	if d.Flags&FlagEnd != 0 && d.Flags&FlagMore != 0 {
		return fmt.Errorf("%w: %v with both end and more flags", ErrDescriptor, d.Kind)
	}
	if d.Aux != 0 && !rule.aux {
		return fmt.Errorf("%w: %v with aux %d, want 0", ErrDescriptor, d.Kind, d.Aux)
	}
	if d.Epoch == 0 {
		return fmt.Errorf("%w: %v with epoch 0", ErrDescriptor, d.Kind)
	}
	hasChunk := d.Length != 0
	switch rule.payload {
	case payloadRequired:
		if !hasChunk {
			return fmt.Errorf("%w: %v without payload", ErrDescriptor, d.Kind)
		}
	case payloadNone:
		if hasChunk || d.Offset != 0 || d.Gen != 0 {
			return fmt.Errorf("%w: %v with payload (offset %d, length %d, gen %d), want none",
				ErrDescriptor, d.Kind, d.Offset, d.Length, d.Gen)
		}
	case payloadChunkRef:
		if d.Length != 0 || d.Gen == 0 {
			return fmt.Errorf("%w: %v with length %d and gen %d, want 0 and non-zero",
				ErrDescriptor, d.Kind, d.Length, d.Gen)
		}
		return nil
	case payloadOptional:
		if !hasChunk && (d.Offset != 0 || d.Gen != 0) {
			return fmt.Errorf("%w: %v without payload has offset %d, gen %d, want 0",
				ErrDescriptor, d.Kind, d.Offset, d.Gen)
		}
	}
	if d.Flags&FlagMore != 0 && !hasChunk {
		return fmt.Errorf("%w: %v with more flag and no payload", ErrDescriptor, d.Kind)
	}
	if hasChunk && d.Gen == 0 {
		return fmt.Errorf("%w: %v payload with chunk generation 0", ErrDescriptor, d.Kind)
	}
	return nil
}

// HasPayload reports whether d names a chunk whose bytes it carries.
func (d *Descriptor) HasPayload() bool { return d.Length != 0 }

// CheckSpan checks d's chunk reference against the geometry of the arena it
// points into: a payload must lie inside one chunk, a Release must name the
// start of a chunk. Errors wrap ErrDescriptor.
func (d *Descriptor) CheckSpan(g arena.Geometry) error {
	if d.Kind == KindRelease {
		if uint64(d.Offset) >= uint64(g.Length()) || g.ChunkStart(d.Offset) != d.Offset {
			return fmt.Errorf("%w: release of offset %d, not a chunk of %d x %d bytes",
				ErrDescriptor, d.Offset, g.Chunks, g.ChunkSize)
		}
		return nil
	}
	if err := g.CheckSpan(d.Offset, d.Length); err != nil {
		return fmt.Errorf("%w: %v: %w", ErrDescriptor, d.Kind, err)
	}
	return nil
}

// String formats every field, for logs and test failures.
func (d Descriptor) String() string {
	return fmt.Sprintf("%v flags=%#x aux=%d epoch=%d stream=%d conn=%d span=%d+%d gen=%d",
		d.Kind, uint8(d.Flags), d.Aux, d.Epoch, d.Stream, d.Conn, d.Offset, d.Length, d.Gen)
}
