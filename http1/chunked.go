package http1

// ChunkedDecoder decodes a chunked request body (RFC 9112 §7.1) as a
// stream: feed it bytes as they arrive, split anywhere, and it returns the
// data spans in place. It validates chunk sizes, extensions and trailer
// fields and refuses anything malformed. The zero value is ready to use.
type ChunkedDecoder struct {
	state     chunkState
	remaining uint64 // bytes left in the current chunk's data
	digits    int    // hex digits seen in the current chunk-size
	extBytes  int    // bytes of the current chunk-ext
	trailer   int    // bytes of the trailer section so far
}

type chunkState uint8

const (
	chSizeStart chunkState = iota
	chSize
	chSizeWS
	chExt
	chSizeLF
	chData
	chDataCR
	chDataLF
	chTrailerStart
	chTrailerName
	chTrailerValue
	chTrailerLF
	chEndLF
	chDone
)

// Bounds on the parts of a chunked body that are not data.
const (
	maxChunkSizeDigits = 16       // a chunk-size wider than this is refused
	maxChunkExtBytes   = 4 << 10  // per chunk
	maxTrailerBytes    = 32 << 10 // whole trailer section
)

// Done reports whether the last chunk and the trailer section have been
// read: the body is complete and the next request may follow.
func (d *ChunkedDecoder) Done() bool { return d.state == chDone }

// Reset readies the decoder for a new body.
func (d *ChunkedDecoder) Reset() { *d = ChunkedDecoder{} }

// Decode consumes bytes from in and returns how many it consumed and at
// most one span of body data, which is a subslice of in. It stops after a
// data span, at the end of in, or when the body is done; call it again with
// in[consumed:] to continue. After an error the body cannot be trusted and
// the connection must be closed.
func (d *ChunkedDecoder) Decode(in []byte) (consumed int, data []byte, err error) {
	i := 0
	for i < len(in) && d.state != chDone {
		c := in[i]
		switch d.state {
		case chData:
			n := uint64(len(in) - i)
			if n > d.remaining {
				n = d.remaining
			}
			d.remaining -= n
			if d.remaining == 0 {
				d.state = chDataCR
			}
			end := i + int(n)
			return end, in[i:end], nil
		case chSizeStart, chSize:
			v := hexVal[c]
			if v >= 0 {
				d.digits++
				if d.digits > maxChunkSizeDigits || d.remaining>>58 != 0 {
					return i, nil, ErrBadChunk
				}
				d.remaining = d.remaining<<4 | uint64(v)
				d.state = chSize
				break
			}
			if d.state == chSizeStart {
				return i, nil, ErrBadChunk
			}
			switch c {
			case ';':
				d.state = chExt
			case ' ', '\t':
				d.state = chSizeWS
			case '\r':
				d.state = chSizeLF
			default:
				return i, nil, ErrBadChunk
			}
		case chSizeWS: // BWS is allowed only before a chunk-ext
			switch c {
			case ' ', '\t':
			case ';':
				d.state = chExt
			default:
				return i, nil, ErrBadChunk
			}
		case chExt:
			if c == '\r' {
				d.state = chSizeLF
				break
			}
			d.extBytes++
			if !isFieldVchar[c] || d.extBytes > maxChunkExtBytes {
				return i, nil, ErrBadChunk
			}
		case chSizeLF:
			if c != '\n' {
				return i, nil, ErrBadChunk
			}
			d.digits, d.extBytes = 0, 0
			if d.remaining == 0 {
				d.state = chTrailerStart
			} else {
				d.state = chData
			}
		case chDataCR:
			if c != '\r' {
				return i, nil, ErrBadChunk
			}
			d.state = chDataLF
		case chDataLF:
			if c != '\n' {
				return i, nil, ErrBadChunk
			}
			d.state = chSizeStart
		case chTrailerStart, chTrailerName, chTrailerValue, chTrailerLF, chEndLF:
			if err := d.trailerByte(c); err != nil {
				return i, nil, err
			}
		}
		i++
	}
	return i, nil, nil
}

// trailerByte advances through the trailer section, which must be
// well-formed header fields (no folding, no space before the colon).
func (d *ChunkedDecoder) trailerByte(c byte) error {
	d.trailer++
	if d.trailer > maxTrailerBytes {
		return ErrHeaderTooLarge
	}
	switch d.state {
	case chTrailerStart:
		switch {
		case c == '\r':
			d.state = chEndLF
		case isTchar[c]:
			d.state = chTrailerName
		default:
			return ErrBadChunk
		}
	case chTrailerName:
		switch {
		case c == ':':
			d.state = chTrailerValue
		case !isTchar[c]:
			return ErrBadChunk
		}
	case chTrailerValue:
		switch {
		case c == '\r':
			d.state = chTrailerLF
		case !isFieldVchar[c]:
			return ErrBadChunk
		}
	case chTrailerLF, chEndLF:
		if c != '\n' {
			return ErrBadChunk
		}
		if d.state == chEndLF {
			d.state = chDone
		} else {
			d.state = chTrailerStart
		}
	}
	return nil
}
