/*
** haywire_bridge.h -- the bridge protocol: what an engine and an
** application host say to each other over the shared-memory transport.
**
** haywire_shm.h specifies the transport: regions, rings, descriptors,
** chunks. This header specifies what travels in it when the engine serves
** HTTP through a host: which descriptor kinds each side sends on a stream,
** and the two payload formats, the REQUEST VIEW and the RESPONSE MESSAGE.
** The Go implementation (package bridge/wire: view.go, response.go,
** layout.go) is one peer of this contract; tests/c/bridge_check.c, checked
** against it by bridge/wire/cview_test.go, another. Anything not written here is not part of
** the contract.
**
** PROMISES. A line whose text begins with ^ (right after the comment's
** "** ", or after a list item's "- ") opens a PROMISE, which runs to the
** bracketed test names that close it: the implementation keeps it, and
** those tests check it against the real code, [package TestName] meaning
** `go test -run 'TestName' ./package/` from the repository root (the
** tests named TestContract* are in package/contract_test.go). The rest is
** explanation: true of the implementation as it stands, but a test may
** not pin it.
**
** Language: C11 (_Static_assert), ISO C only: <stddef.h>, <stdint.h>,
** <string.h>. This header does not need haywire_shm.h; include that one
** too to move the bytes. Multi-byte fields are little-endian and read and
** written a byte at a time, so the helpers work at any alignment and on
** any host byte order. Everything is defined here as static inline
** functions: a reference implementation, usable as it is.
**
** CONTENTS
**   1. Streams and message kinds
**   2. Constants, error codes
**   3. Request view              (engine -> host)
**   4. Response message          (host -> engine)
**   5. Compile-time checks
**   6. Helpers
**
** ======================================================================
** 1. STREAMS AND MESSAGE KINDS
** ======================================================================
**
** One HTTP request is one STREAM. The engine picks its id (a counter,
** never 0) and puts it in every descriptor of the stream (desc.stream,
** haywire_shm.h section 5) and in the view (request_id). desc.conn is the
** low 32 bits of the client connection id (the view's conn_id has all
** 64).
** ^Every descriptor the engine sends on a stream -- REQUEST parts, BODY,
** END, CANCEL CLIENT_GONE -- carries that stream's id and conn; its CANCEL
** DRAIN carries stream 0 and conn 0. [bridge TestContractFlags]
** [bridge TestContractLengthMismatch] [bridge TestContractEngineDrain]
**
** A host copies the REQUEST's stream and conn into every descriptor it
** sends on that stream: RESPONSE, BODY, END, CONTINUE and CANCEL
** HOST_ABORT; it sends stream 0 and conn 0 on NOP and CANCEL DRAIN. The
** engine finds the stream by its id alone and does not check conn; a
** RELEASE copies both from the descriptor it releases, and its receiver
** ignores them (haywire_shm.h section 5).
**
**   kind            sender           payload                     flags sent
**   --------------  ---------------  --------------------------  ----------
**   REQUEST   (1)   engine -> host   a request view (sect. 3)    MORE, END
**   BODY      (2)   either           one piece of a body         none, END
**   END       (3)   either           none: the body is complete  -
**   CANCEL    (4)   either           none; aux = reason          -
**   RESPONSE  (5)   host -> engine   a response message (s. 4)   MORE, END
**   CONTINUE  (10)  host -> engine   none: send me the body      -
**   NOP       (9)   host -> engine   none, on stream 0           -
**
** Messages and parts. A request view and a response message are
** MESSAGES; a body is a sequence of PIECES. END and MORE mean the same in
** both (haywire_shm.h section 5, "Flags"): END marks the last descriptor
** of the message, MORE one that is not. A view or response message longer
** than one chunk travels as consecutive descriptors of the same kind and
** stream, one chunk each: MORE on every part but the last, END on the
** last. The receiver concatenates the payloads in ring order; the message
** is complete at the first part flagged END. END on a REQUEST or RESPONSE
** ends the MESSAGE, not the stream: a body may follow as BODY pieces --
** the message says so (view flag BODY_STREAM, response flag STREAM). On
** a BODY, END makes it the last piece of the body, exactly as an END
** descriptor right after it would; MORE on a BODY passes the descriptor
** rules but means nothing more than "not the last", which every BODY
** without END already is: the engine ignores it, and sends none.
** ^The engine sends every request view as REQUEST parts flagged MORE ...
** MORE, END (one part: END alone), all published together, whether or
** not a body follows; it sends no flag on a BODY piece but the last, and
** ends a streamed request body either with END on its last BODY or with
** an END descriptor. [bridge TestContractFlags]
** ^The engine refuses at start any geometry in which the largest request
** view cannot be sent (it would answer such requests 503 forever). With
** V = 136 + 16 x max_header_count + max_header_bytes + body_inline and
** H = V - body_inline (the view of a head whose body streams), it needs
** ceil(V / chunk_size) <= slots (region_slots, the data ring) and
** max(ceil(V / chunk_size), ceil(H / chunk_size) + 1) <= chunks
** (region_chunks: a streamed body needs a chunk beside its head's view);
** the error names the smallest working values. [bridge TestCheckGeometry]
** [bridge TestViewBoundsIsViewLen] [tests TestGeometryTooSmallRefused]
** ^The engine takes a RESPONSE part with neither flag as one flagged
** MORE, and releases the chunk of each part as soon as it has copied it,
** before the message is complete: a host may send a whole response larger
** than its arena, part by part, waiting for its chunks to come back in
** between (the Go host sends batches of a quarter of its ring or arena).
** Nothing of a response reaches the client before its part flagged END.
** [bridge TestContractWholeResponseInParts]
** Descriptors of different streams interleave freely, in both directions.
**
** Ordering.
** ^Within a stream, ring order is byte order: the payloads of the REQUEST
** parts, then of the BODY pieces, in ring order, are the view and the
** body; the engine writes a response's bytes to the client in the order
** the host published them. [bridge TestBridgeStreamedDownload]
** [bridge TestHostStreamsBodiesThroughEngine]
** ^A CANCEL HOST_ABORT is ordered like the pieces: every BODY piece the
** host published on the stream before it is written to the client's
** socket before the connection is cut, and every chunk comes back.
** [bridge TestContractAbortIsOrdered]
** ^The cut of a body framed by a length or chunked is a FIN after those
** bytes: the client reads every one, then sees the body end early.
** [engine TestAbortDeliversWhatWasWritten] (A body that would end with
** the connection -- HTTP/1.0, no length -- is cut with a TCP reset, the
** only way to tell the client it is not whole; a reset may destroy bytes
** the client has not read yet.)
** ^A streamed response head goes to the client at once: the engine writes
** the status line and fields (with the message's first body bytes, if
** any) as soon as it has the message, without waiting for a first BODY
** piece or END -- a head-only flush, so a client sees the head of a
** response whose body is slow to come (a long poll, an event stream).
** [bridge TestContractHeadFlush]
** The one exception: for a request flagged EXPECT_CONTINUE the head waits
** for the first body bytes or END, because a final head written first
** would preclude the interim "100 Continue".
**
** REQUEST BODY.
** ^When the view's flag BODY_STREAM is clear, the view holds the whole
** (de-chunked) body and nothing follows. When it is set, the
** view holds the first bytes of the body (possibly none) and the rest
** follows as BODY pieces, each a piece of the de-chunked body, then END --
** or the last BODY carries the END flag instead. The engine streams a
** body when it arrives chunked, when its Content-Length exceeds the
** bridge's inline limit (bridge option body_inline, default 64 KiB), and
** always when the request carries "Expect: 100-continue".
** [bridge TestContractFlags] [bridge TestBridgeStreamedUpload]
** ^If the body cannot be completed (the client went away, sent a
** malformed chunk, exceeded max_request_size or stalled past
** body_timeout), a CANCEL with aux CLIENT_GONE comes instead of END.
** [bridge TestHostClientGoneMidUploadThroughEngine]
**
** Flow control, request bodies.
** ^The engine keeps at most `window` BODY pieces of one stream lent to
** the host (not yet released); each piece is
** one chunk of the request arena (arena 0), possibly not full, so window
** counts chunks: window = ceil(body_window / chunk_size) with the bridge
** option body_window (bridge.Options.BodyWindow), by default a quarter of
** the request arena's chunk_count, and at least 1. While the host holds
** that many the engine reads no more from that client (TCP pushes back).
** [bridge TestBridgeStreamedUpload] [bridge TestContractDefaultWindow]
** So a host releases BODY chunks as its application consumes them --
** holding them all until the end stalls a body larger than the window.
** The window is per stream: several uploads together may hold several
** windows.
**
** 100-continue.
** ^A view flagged EXPECT_CONTINUE (and BODY_STREAM) comes before any of
** the body: the engine reads no body until the host sends
** CONTINUE on the stream; then it sends "100 Continue" to the client (if
** no earlier response on the connection is still pending) and forwards
** the body. [bridge TestBridgeContinue] [bridge TestHostContinueThroughEngine]
** A host sends CONTINUE when its application first reads the body (OWIN
** 1.0, 3.4).
** ^A host that answers without CONTINUE gets no body; the engine closes
** that client connection after the response. [bridge TestHostContinueThroughEngine]
** CONTINUE on a stream that did not ask for it, or a second one, is
** ignored.
**
** RESPONSE BODY.
** ^A response message without the STREAM flag (section 4) holds the
** whole response. With STREAM, its body holds the first bytes (possibly
** none) and the rest follows as BODY pieces, then END (or the last BODY
** flagged END). content_length -1: the engine sends the body chunked to
** HTTP/1.1 clients; content_length >= 0: sent as Content-Length.
** [bridge TestBridgeStreamedDownload] [bridge TestHostStreamsBodiesThroughEngine]
** For HTTP/1.0 clients a body without content_length ends with the
** connection, which the engine closes after it.
** ^A streamed body that turns out longer than content_length, or shorter
** at END, cuts the client connection (the response cannot be completed
** honestly); the piece that overflows is not written.
** [bridge TestContractLengthMismatch]
** ^The engine writes each piece to the client before it releases the
** piece's chunk, so a slow client slows the host down instead of filling
** the engine's memory. [bridge TestContractWriteBeforeRelease]
** The engine sets no limit of its own on the pieces of one response it
** holds (it takes every piece off the ring and keeps it until written):
** the host bounds how many chunks one stream may hold, so one slow client
** does not take its whole arena. The Go host (bridge/host/send.go, streamChunks)
** and the C host built on it keep at most 8 BODY chunks of one stream
** unreleased, the C# host too (HostConnection.StreamChunkLimit): a writer
** that has 8 out waits for the engine to release one.
**
** HEAD. The view of a HEAD request has flag HEAD (and method_id 2). The
** engine sends no body for it, whatever the host sends, and writes the
** head as it would for GET:
**   - a whole response (no STREAM): Content-Length is the length of the
**     message's body -- and a whole message must have content_length
**     equal to its body's length, or -1 (section 4) -- so a host that
**     sends no body bytes gets "Content-Length: 0";
**   - a streamed head (STREAM) with content_length n >= 0 and no body
**     bytes, then END: "Content-Length: n", the declared length, with no
**     body and no length check. This is how a host answers HEAD with the
**     length a GET would have, without producing the body. content_length
**     -1 gives HTTP/1.1 clients "Transfer-Encoding: chunked" and no body.
** ^Body bytes a host sends for a HEAD request -- in the message or as
** BODY pieces -- are discarded by the engine, not written and not checked
** against content_length. [bridge TestContractHead]
** So a host that discards them itself (as the OWIN host does, the
** application's writes for HEAD going nowhere) only saves the copies.
**
** Who does what:
**   - ^A host answers every REQUEST it receives with exactly one response
**     (whole, or streamed to its END) on the same stream, or a CANCEL
**     HOST_ABORT. The engine has no response timeout: an unanswered
**     request stays in flight until the host detaches or dies (then the
**     engine answers 502, or cuts the connection if the response had
**     begun). [bridge TestBridgeHostKilled] [bridge TestBridgeHostDiesMidStream]
**     A view that fails hw_bridge_view_check() is answered too: the Go
**     host sends status 500 with the error as body.
**   - ^The engine drops, without error, a response, BODY, END or CONTINUE
**     for a stream it no longer holds (cancelled, failed, answered or
**     unknown), and still releases its chunks, so answering a cancelled
**     stream is harmless. [bridge TestContractClientGoneStreamed]
**     [bridge TestContractValidation]
**     A host likewise releases and ignores BODY pieces of a stream it has
**     answered or does not know.
**   - ^When the response is complete while the request body is still
**     streaming, the engine stops forwarding the body (no END follows) and
**     closes the client connection after the response.
**     [bridge TestContractEarlyResponse]
**   - NOP, from a host: ignored. A host sends one on stream 0 right after
**     it attaches: the wake-up makes the engine notice it and route new
**     requests to it at once, rather than at its next look at the lanes
**     (tens of milliseconds, which new requests spend waiting for a
**     host).
**   - CANCEL, engine to host, aux CLIENT_GONE on a request's stream: its
**     client closed the connection, or only its sending side (a
**     half-close, after which the client still reads the response), or
**     the request body failed (above), or a streamed response could not be
**     written to the client. The engine keeps holding the request: the
**     host still answers it; a response the engine can no longer deliver
**     is dropped. The Go host marks the request cancelled
**     (host.Request.Cancelled, hw_host_request_cancelled) and hands
**     it out all the same. A host must accept CANCEL.
**   - CLIENT_GONE after a streamed response began: the host stops
**     producing and sends END. END is also right for a half-closed
**     client, which still reads: the response completes if its body is
**     whole (a content_length not reached cuts it, as always); HOST_ABORT
**     would cut even that client.
**   - ^After the client is gone the engine still takes every BODY piece
**     and END of a streamed response, writes nothing, and releases every
**     chunk; END completes the stream (counted completed), and later
**     descriptors for it are dropped. [bridge TestContractClientGoneStreamed]
**   - ^CANCEL, host to engine, aux HOST_ABORT: the host gives up on the
**     stream (its application failed after the response began, or it set
**     a Content-Length it cannot keep). Before the response head (no
**     whole message, no streamed head yet) the engine answers 500; after a
**     streamed head it cuts the client connection, behind the pieces sent
**     before the abort (Ordering, above). It is the host's answer to the
**     stream: nothing else need follow. [bridge TestBridgeHostAbort]
**     [bridge TestHostAbortThroughEngine] [bridge TestContractAbortIsOrdered]
**
** Draining. CANCEL with aux DRAIN on stream 0, conn 0, either way, ends
** the routing of new requests to a lane; the host then finishes and
** detaches, and no request is lost.
**   - Engine to host (hot swap): a newer host attached; no more requests
**     come.
**   - ^Every request the engine published to the lane before its DRAIN
**     precedes it on ring 0, and none follows it (new requests go to
**     another lane). [bridge TestBridgeHotSwapUnderLoad]
**     [bridge TestContractEngineDrain] [bridge TestContractHostDrain]
**   - Host to engine (a host about to exit, so its exit costs no 502;
**     the Go host's Host.Leave, the C API's hw_host_leave):
**       1. The host sends CANCEL DRAIN on stream 0.
**       2. The engine stops routing new requests to that lane at once
**          (they go to the newest other host, or wait up to host_wait for
**          one, then get 503) and answers with its own CANCEL DRAIN on
**          stream 0 -- once: if it had told the host to drain already, that
**          DRAIN was the answer, and none follows.
**       3. Until the host has seen the engine's DRAIN it keeps taking
**          requests off ring 0: every one before the DRAIN is its to
**          answer.
**       4. Then it finishes what it has, sends the responses (streamed
**          ones to their END) and detaches. A host that detaches with
**          requests unanswered has them answered 502 (or cut) by the
**          engine.
**   - ^The engine answers a host's DRAIN with its own, after which it
**     publishes no request on that lane; the requests before it are
**     served. [bridge TestContractHostDrain]
**
** Trust: each side validates what the other wrote before using it
** (hw_bridge_view_check for views; the engine's decoder for responses). A
** message that does not decode fails its stream only, never the reader.
** The bytes stay in the peer's arena: read them in place, and do not keep
** pointers past the release of the chunk (haywire_shm.h section 6). A view
** split over parts must be copied into one buffer first.
**
** What the engine checks, and what the client gets. The engine takes the
** descriptors of ring 1 in ring order and, for each:
**   E1  applies the descriptor rules of haywire_shm.h section 5 and checks
**       that a payload lies inside one chunk of arena 1. A descriptor that
**       fails is counted (INVALID) and not used, its chunk is not
**       released, and the stream it names, if held, fails: 502, or a cut
**       connection if a streamed response had begun. A stale descriptor
**       (a previous host's epoch) is skipped, without a count of INVALID.
**   E2  RESPONSE for a stream it does not hold: dropped. For a stream whose
**       streamed head came already: counted INVALID and dropped; the stream
**       goes on. Parts are copied until the one flagged END (no limit on
**       their number or total size); the message is then decoded with the
**       rules of section 4. One that fails: 502, counted INVALID.
**   E3  BODY or END for a stream it does not hold: dropped. For a held
**       stream with no streamed head yet: counted INVALID and dropped; the
**       stream goes on. With a streamed head: written (E5).
**   E4  CONTINUE: sends the body of a held stream that waits for it;
**       otherwise ignored. CANCEL: aux HOST_ABORT ends a held stream (500
**       or a cut connection, above), and is ignored for one not held; aux
**       DRAIN on stream 0 drains the lane (above); any other aux is counted
**       INVALID and ignored. NOP: ignored. REQUEST, UPGRADE, DATA: counted
**       INVALID and ignored.
**   E5  A streamed body past content_length: that piece is not written,
**       the connection is cut and the host gets CANCEL CLIENT_GONE; END
**       short of it: the connection is cut. (HEAD, 204 and 304: no body is
**       written and no length is checked.)
**   E6  A valid message's status 100..199: the client gets 500 (the
**       engine sends no interim response; a host cannot send 100 Continue
**       or 101 itself). Its reason and fields are filtered (section 4).
** Every chunk of a descriptor that passes E1 is released, now or, for a
** piece of a streamed response, once written. RELEASEs on ring 3 follow
** haywire_shm.h section 6: a wrong one is counted INVALID (or STALE) and
** ignored.
** ^The client gets:
**     503  no host attached, after waiting host_wait (bridge option
**          HostWait, default 5 s) for one; no room in ring 0 or arena 0 for
**          the request within send_timeout (5 s); or the host did not take
**          it off the ring within take_timeout (10 s)
**     502  before the engine has the response head (a whole message, or
**          a streamed head): the response message is invalid (E2), a
**          descriptor naming the stream is (E1), the host died or
**          detached, the engine was fenced (it stalled past the liveness
**          bound: haywire_shm.h section 9), or the engine closed
**     500  CANCEL HOST_ABORT before the response head; a valid message
**          with status 100..199 (E6)
**     cut  (the connection ends before the body does) after a streamed
**          head: HOST_ABORT, an
**          invalid descriptor naming the stream, the host's death or
**          detach, the engine closing; a streamed body of the wrong
**          length (E5)
**   [bridge TestContractValidation] [bridge TestBridgeInvalidResponse502]
**   [bridge TestBridgeOutOfRangeDescriptors502] [bridge TestBridgeNoHost503]
**   [bridge TestBridgeTakeTimeout] [bridge TestBridgeHostAbort]
**
** ======================================================================
** 2. CONSTANTS, ERROR CODES
** ======================================================================
*/
#ifndef HAYWIRE_BRIDGE_H
#define HAYWIRE_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
#error "haywire_bridge.h is C11; include it from a C translation unit"
#endif

/* Descriptor kinds of section 1: the values of HW_SHM_KIND_* in
** haywire_shm.h (checked in section 5 when that header is included
** first). */
#define HW_BRIDGE_KIND_REQUEST 1
#define HW_BRIDGE_KIND_BODY 2
#define HW_BRIDGE_KIND_END 3
#define HW_BRIDGE_KIND_CANCEL 4
#define HW_BRIDGE_KIND_RESPONSE 5
#define HW_BRIDGE_KIND_CONTINUE 10

/* Reasons of CANCEL (desc.aux). */
#define HW_BRIDGE_CANCEL_DRAIN 1       /* either way, stream 0: no more requests on this lane (Draining) */
#define HW_BRIDGE_CANCEL_CLIENT_GONE 2 /* engine -> host: the client went away or its body failed */
#define HW_BRIDGE_CANCEL_HOST_ABORT 3  /* host -> engine: abandon this response */

/*
** Error codes of hw_bridge_view_check: 0 is success, failures are
** negative, one per rule of section 3 in the order they are checked.
** hw_bridge_strerror() maps a code to its message.
*/
#define HW_BRIDGE_ERRNO_MAP(XX)                                              \
  XX(OK, 0, "success")                                                       \
  XX(ESHORT, -1, "view shorter than its fixed header")                       \
  XX(EVERSION, -2, "unsupported view version")                               \
  XX(EBOUNDS, -3, "field table, head or body outside the view")              \
  XX(ESPAN, -4, "request-line or Host span outside the head")                \
  XX(EFIELD, -5, "header field span outside the head, or empty field name")

enum hw_bridge_errno {
#define HW_BRIDGE__ENUM(name, code, msg) HW_BRIDGE_##name = (code),
  HW_BRIDGE_ERRNO_MAP(HW_BRIDGE__ENUM)
#undef HW_BRIDGE__ENUM
};

/* Return the message for an HW_BRIDGE_* code. The string is static. */
static inline const char *hw_bridge_strerror(int code) {
  switch (code) {
#define HW_BRIDGE__MSG(name, c, msg) \
  case (c):                          \
    return (msg);
    HW_BRIDGE_ERRNO_MAP(HW_BRIDGE__MSG)
#undef HW_BRIDGE__MSG
  }
  return "unknown error";
}

/*
** ======================================================================
** 3. REQUEST VIEW
** ======================================================================
**
** The request as the host reads it, in place: a fixed header, a table of
** header-field spans, the raw request head as received, then the body.
** Offsets in the fixed header (table_off, head_off, body_off) count from
** the start of the view; SPANS count from the start of the raw head.
**
** As the engine writes it (the sections are packed, in this order):
**
**   0            136                 head_off            body_off        n
**   +------------+-------------------+-------------------+---------------+
**   | fixed      | field table       | raw request head  | body          |
**   | header     | field_count x 16  | head_len bytes    | body_len bytes|
**   +------------+-------------------+-------------------+---------------+
**                ^ table_off = 136   ^ = 136 + 16 x field_count
**                                                        ^ = head_off + head_len
**                                                                        ^ n = body_off + body_len
**
** ^That order is part of the format: rule V3 refuses a view whose sections
** are not packed exactly so, which leaves no byte of it unaccounted for.
** [bridge/wire TestDecodeViewRequiresPackedLayout] [bridge/wire TestCBridge]
**
** Fixed header (136 bytes; u = unsigned, i = signed two's complement):
**
**   0         2         4        5        6              8                      16
**   +---------+---------+--------+--------+--------------+----------------------+
**   | version | flags   | method | minor  | field_count  | request_id           |
**   | u16     | u16     | _id u8 | u8     | u16          | u64                  |
**   +---------+---------+--------+--------+--------------+----------------------+
**   16                     24                     32         36         40         44         48
**   +----------------------+----------------------+----------+----------+----------+----------+
**   | conn_id              | content_length       | head_off | head_len | body_off | body_len |
**   | u64                  | i64                  | u32      | u32      | u32      | u32      |
**   +----------------------+----------------------+----------+----------+----------+----------+
**   48           56           64           72           80           88           96
**   +------------+------------+------------+------------+------------+------------+
**   | method     | target     | path       | query      | authority  | host       |
**   | span       | span       | span       | span       | span       | span       |
**   +------------+------------+------------+------------+------------+------------+
**   96                          112                         128      130      132         136
**   +---------------------------+---------------------------+--------+--------+-----------+
**   | remote_ip                 | local_ip                  | remote | local  | table_off |
**   | 16 bytes                  | 16 bytes                  | _port  | _port  | u32       |
**   +---------------------------+---------------------------+--------+--------+-----------+
**
** Span (8 bytes) and field-table entry (16 bytes):
**
**   0          4          8                 0             8             16
**   +----------+----------+                 +-------------+-------------+
**   | off u32  | len u32  |                 | name span   | value span  |
**   +----------+----------+                 +-------------+-------------+
**
** version: HW_BRIDGE_VIEW_VERSION. A change that moves a field or changes
**   its meaning bumps it.
** flags: HW_BRIDGE_VIEW_F_*. The engine writes the other bits as zero; a
**   reader ignores them.
** method_id: the method's number in HW_BRIDGE_METHOD_MAP below (0 DELETE,
**   1 GET, 2 HEAD, 3 POST, 4 PUT, ...), HW_BRIDGE_METHOD_OTHER for any
**   other method: read the method span then. The method span holds the
**   method in every case.
** minor: the request's HTTP minor version (HTTP/1.minor).
** request_id: the stream id (desc.stream). conn_id: the engine's id for
**   the client connection; requests of one connection share it.
** content_length: the Content-Length the client sent, 0 without a body,
**   -1 when the body came chunked (flag CHUNKED; body holds it de-chunked).
** head_off, head_len: the raw request head (request line, fields, final
**   CRLF), byte for byte as received.
** body_off, body_len: the request body: all of it, or with flag
**   BODY_STREAM its first bytes (section 1).
** spans: method, target (as received), path (still percent-encoded),
**   query (without '?'; len HW_BRIDGE_NO_QUERY, off 0, when the target has
**   no '?'; an empty query "/?" is off..off+0), authority (absolute-form
**   targets only, else 0+0), host (the Host field's value, 0+0 without
**   one). An absolute-form target without a path has the path span 0+0:
**   read it as "/".
** remote_ip, local_ip: the client's and the engine's address, IPv6
**   network order; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, see
**   hw_bridge_ip_is_v4); all zero when unknown. Ports: u16, 0 if unknown.
** table_off: the field table: field_count entries, one per header field,
**   in the order received (repeated names are repeated entries).
**
** Validation.
** ^hw_bridge_view_check(b, n) accepts exactly the views the Go decoder
** (wire.DecodeView) accepts, and the engine writes only views it
** accepts. [bridge/wire TestCBridge] [bridge TestContractFlags]
** It checks, in order, with every sum computed in 64 bits (no u32
** wrap-around):
**   V1  n >= HW_BRIDGE_VIEW_HEADER_LEN                      else ESHORT
**   V2  version == HW_BRIDGE_VIEW_VERSION                   else EVERSION
**   V3  the sections are packed in order and fill the view exactly:
**       table_off = 136, head_off = table_off + 16 x field_count,
**       body_off = head_off + head_len, body_off + body_len = n  else EBOUNDS
**   V4  for the six spans: off + len <= head_len, except the query span
**       when its len is HW_BRIDGE_NO_QUERY (its off is then ignored)
**                                                           else ESPAN
**   V5  for each field entry: name and value spans within the head as
**       in V4, and name len >= 1 (a value may be empty)     else EFIELD
** Nothing else is checked: not the flags, method_id, minor, ids,
** content_length (against body_len or otherwise), addresses or ports; not
** what the spans cover (a method span need not hold a token). A host needing
** more (e.g. a token method) checks it itself. After V1-V5 every accessor
** below reads inside [b, b + n).
*/
#define HW_BRIDGE_VIEW_VERSION 2
#define HW_BRIDGE_NO_QUERY UINT32_C(0xFFFFFFFF) /* query span len: no '?' */
#define HW_BRIDGE_METHOD_OTHER 255               /* method_id of an unlisted method */

/*
** Method numbers (method_id): XX(number, NAME, "method as sent"). The
** engine's parser numbers methods so; haywire.h's HW_HTTP_METHOD_MAP is
** the same table for the in-process C API.
** ^The engine's method_id is the number of the method in this table for
** every method in it, and HW_BRIDGE_METHOD_OTHER for any other; the
** table equals haywire.h's HW_HTTP_METHOD_MAP, entry for entry.
** [bridge TestContractMethodNumbering] [bridge/wire TestCBridge]
** Numbers are never reused or changed; new methods get new numbers.
*/
#define HW_BRIDGE_METHOD_MAP(XX)       \
  XX(0, DELETE, "DELETE")              \
  XX(1, GET, "GET")                    \
  XX(2, HEAD, "HEAD")                  \
  XX(3, POST, "POST")                  \
  XX(4, PUT, "PUT")                    \
  XX(5, CONNECT, "CONNECT")            \
  XX(6, OPTIONS, "OPTIONS")            \
  XX(7, TRACE, "TRACE")                \
  XX(8, COPY, "COPY")                  \
  XX(9, LOCK, "LOCK")                  \
  XX(10, MKCOL, "MKCOL")               \
  XX(11, MOVE, "MOVE")                 \
  XX(12, PROPFIND, "PROPFIND")         \
  XX(13, PROPPATCH, "PROPPATCH")       \
  XX(14, SEARCH, "SEARCH")             \
  XX(15, UNLOCK, "UNLOCK")             \
  XX(16, REPORT, "REPORT")             \
  XX(17, MKACTIVITY, "MKACTIVITY")     \
  XX(18, CHECKOUT, "CHECKOUT")         \
  XX(19, MERGE, "MERGE")               \
  XX(20, MSEARCH, "M-SEARCH")          \
  XX(21, NOTIFY, "NOTIFY")             \
  XX(22, SUBSCRIBE, "SUBSCRIBE")       \
  XX(23, UNSUBSCRIBE, "UNSUBSCRIBE")   \
  XX(24, PATCH, "PATCH")               \
  XX(25, PURGE, "PURGE")

/* HW_BRIDGE_METHOD_GET (1), ... */
enum hw_bridge_method {
#define HW_BRIDGE__METHOD(num, name, string) HW_BRIDGE_METHOD_##name = (num),
  HW_BRIDGE_METHOD_MAP(HW_BRIDGE__METHOD)
#undef HW_BRIDGE__METHOD
};

/* Flags (the flags field). */
#define HW_BRIDGE_VIEW_F_KEEP_ALIVE 0x0001      /* the client keeps the connection open */
#define HW_BRIDGE_VIEW_F_HEAD 0x0002            /* HEAD: the response body is not sent */
#define HW_BRIDGE_VIEW_F_EXPECT_CONTINUE 0x0004 /* the client expects 100 Continue: send CONTINUE to get the body */
#define HW_BRIDGE_VIEW_F_CHUNKED 0x0008         /* the body arrived chunked (now de-chunked) */
#define HW_BRIDGE_VIEW_F_BODY_STREAM 0x0010     /* more body follows as BODY pieces, then END */

/* Field sizes, then every offset as the previous one plus its size. */
#define HW_BRIDGE_U8 1
#define HW_BRIDGE_U16 2
#define HW_BRIDGE_U32 4
#define HW_BRIDGE_U64 8
#define HW_BRIDGE_IP_SIZE 16

#define HW_BRIDGE_SPAN_OFF_OFFSET 0
#define HW_BRIDGE_SPAN_LEN_OFFSET (HW_BRIDGE_SPAN_OFF_OFFSET + HW_BRIDGE_U32)
#define HW_BRIDGE_SPAN_SIZE (HW_BRIDGE_SPAN_LEN_OFFSET + HW_BRIDGE_U32)

#define HW_BRIDGE_FIELD_NAME_OFFSET 0
#define HW_BRIDGE_FIELD_VALUE_OFFSET (HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_FIELD_ENTRY_SIZE (HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_SIZE)

#define HW_BRIDGE_VIEW_VERSION_OFFSET 0
#define HW_BRIDGE_VIEW_FLAGS_OFFSET (HW_BRIDGE_VIEW_VERSION_OFFSET + HW_BRIDGE_U16)
#define HW_BRIDGE_VIEW_METHOD_ID_OFFSET (HW_BRIDGE_VIEW_FLAGS_OFFSET + HW_BRIDGE_U16)
#define HW_BRIDGE_VIEW_MINOR_OFFSET (HW_BRIDGE_VIEW_METHOD_ID_OFFSET + HW_BRIDGE_U8)
#define HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET (HW_BRIDGE_VIEW_MINOR_OFFSET + HW_BRIDGE_U8)
#define HW_BRIDGE_VIEW_REQUEST_ID_OFFSET (HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET + HW_BRIDGE_U16)
#define HW_BRIDGE_VIEW_CONN_ID_OFFSET (HW_BRIDGE_VIEW_REQUEST_ID_OFFSET + HW_BRIDGE_U64)
#define HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET (HW_BRIDGE_VIEW_CONN_ID_OFFSET + HW_BRIDGE_U64)
#define HW_BRIDGE_VIEW_HEAD_OFF_OFFSET (HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET + HW_BRIDGE_U64)
#define HW_BRIDGE_VIEW_HEAD_LEN_OFFSET (HW_BRIDGE_VIEW_HEAD_OFF_OFFSET + HW_BRIDGE_U32)
#define HW_BRIDGE_VIEW_BODY_OFF_OFFSET (HW_BRIDGE_VIEW_HEAD_LEN_OFFSET + HW_BRIDGE_U32)
#define HW_BRIDGE_VIEW_BODY_LEN_OFFSET (HW_BRIDGE_VIEW_BODY_OFF_OFFSET + HW_BRIDGE_U32)
#define HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET (HW_BRIDGE_VIEW_BODY_LEN_OFFSET + HW_BRIDGE_U32)
#define HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET (HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_VIEW_PATH_SPAN_OFFSET (HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_VIEW_QUERY_SPAN_OFFSET (HW_BRIDGE_VIEW_PATH_SPAN_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_VIEW_AUTHORITY_SPAN_OFFSET (HW_BRIDGE_VIEW_QUERY_SPAN_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_VIEW_HOST_SPAN_OFFSET (HW_BRIDGE_VIEW_AUTHORITY_SPAN_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_VIEW_REMOTE_IP_OFFSET (HW_BRIDGE_VIEW_HOST_SPAN_OFFSET + HW_BRIDGE_SPAN_SIZE)
#define HW_BRIDGE_VIEW_LOCAL_IP_OFFSET (HW_BRIDGE_VIEW_REMOTE_IP_OFFSET + HW_BRIDGE_IP_SIZE)
#define HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET (HW_BRIDGE_VIEW_LOCAL_IP_OFFSET + HW_BRIDGE_IP_SIZE)
#define HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET (HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET + HW_BRIDGE_U16)
#define HW_BRIDGE_VIEW_TABLE_OFF_OFFSET (HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET + HW_BRIDGE_U16)
#define HW_BRIDGE_VIEW_HEADER_LEN (HW_BRIDGE_VIEW_TABLE_OFF_OFFSET + HW_BRIDGE_U32)

/* The six spans in header order, for loops: span i is at
** HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + i * HW_BRIDGE_SPAN_SIZE. */
#define HW_BRIDGE_SPAN_METHOD 0
#define HW_BRIDGE_SPAN_TARGET 1
#define HW_BRIDGE_SPAN_PATH 2
#define HW_BRIDGE_SPAN_QUERY 3
#define HW_BRIDGE_SPAN_AUTHORITY 4
#define HW_BRIDGE_SPAN_HOST 5
#define HW_BRIDGE_SPAN_COUNT 6

/*
** ======================================================================
** 4. RESPONSE MESSAGE
** ======================================================================
**
** A fixed head, the reason phrase, the header block, then the body, packed
** in this order (the lengths give the positions):
**
**   0          2       3            4                8                      16
**   +----------+-------+------------+----------------+----------------------+
**   | status   | flags | reason_len | fields_len     | content_length       |
**   | u16      | u8    | u8         | u32            | i64                  |
**   +----------+-------+------------+----------------+----------------------+
**   16          16 + reason_len       16 + reason_len + fields_len            n
**   +-----------+---------------------+---------------------------------------+
**   | reason    | header block        | body (the rest of the message)        |
**   +-----------+---------------------+---------------------------------------+
**
** status: the status code. flags: HW_BRIDGE_RESPONSE_F_*; other bits
**   are zero. reason: the reason phrase (at most 255 bytes), empty for the
**   standard one. content_length: the body length, or -1: not announced.
**   With flag STREAM it announces the whole body, of which this message
**   holds the first bytes (section 1).
** header block: zero or more lines "Name: value\r\n" -- no empty line at
**   the end. body: everything after the header block, n - 16 - reason_len
**   - fields_len bytes.
**
** Decoding (wire.DecodeResponse).
** ^A message is invalid if n < 16, if 16 + reason_len + fields_len > n,
** or if status is outside 100..999. [bridge/wire TestCBridge]
** [bridge TestBridgeInvalidResponse502]
** The engine then also requires:
**   content_length < 0 (any negative value means -1, not announced), or
**   content_length == the body's length, or (with STREAM) content_length
**   >= the body's length;
**   no flag bits other than HW_BRIDGE_RESPONSE_F_*;
**   every line of the header block parses as hw_bridge_next_field does:
**   the line ends at the first CRLF (a block ending without CRLF is
**   invalid), the name is everything before the first ':' and is not
**   empty, the value is everything after it with leading SP and HTAB
**   removed (trailing ones are kept).
** ^hw_bridge_next_field splits a header block exactly as the engine does,
** and the engine answers 502 to a message breaking any rule above.
** [bridge/wire TestCBridge] [bridge TestContractValidation]
** An invalid message fails the stream with 502 (section 1). Within a valid
** one the engine drops, silently, a reason containing CR, LF or NUL (the
** standard phrase is sent instead), fields whose name is not an HTTP token
** or whose value contains CR, LF or NUL, and Content-Length and
** Transfer-Encoding fields; it writes Content-Length itself, and Date and
** Server unless the header block has its own (which then replace the
** engine's: one of each goes out), and honours "Connection: close".
** [bridge TestHostOwnServerAndDate]
*/
#define HW_BRIDGE_RESPONSE_STATUS_OFFSET 0
#define HW_BRIDGE_RESPONSE_FLAGS_OFFSET (HW_BRIDGE_RESPONSE_STATUS_OFFSET + HW_BRIDGE_U16)
#define HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET (HW_BRIDGE_RESPONSE_FLAGS_OFFSET + HW_BRIDGE_U8)
#define HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET (HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET + HW_BRIDGE_U8)
#define HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET (HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET + HW_BRIDGE_U32)
#define HW_BRIDGE_RESPONSE_HEAD_LEN (HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET + HW_BRIDGE_U64)
#define HW_BRIDGE_RESPONSE_MIN_STATUS 100
#define HW_BRIDGE_RESPONSE_MAX_STATUS 999
#define HW_BRIDGE_RESPONSE_MAX_REASON 0xFF /* reason_len is a u8 */
#define HW_BRIDGE_RESPONSE_F_STREAM 0x01  /* the body continues in BODY pieces, then END */

/*
** ======================================================================
** 5. COMPILE-TIME CHECKS
** ======================================================================
**
** ^The offsets accumulated above are the ones the diagrams show, and the
** ones package bridge/wire writes and reads (its layout.go names each).
** [bridge/wire/internal/bridgecheck TestLayoutMatchesHeader]
** [bridge/wire/internal/bridgecheck TestEncoderWritesAtNamedOffsets]
*/
#define HW_BRIDGE__CHECK(cond) _Static_assert(cond, #cond)
HW_BRIDGE__CHECK(HW_BRIDGE_SPAN_SIZE == 8);
HW_BRIDGE__CHECK(HW_BRIDGE_FIELD_ENTRY_SIZE == 16);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_FLAGS_OFFSET == 2);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_METHOD_ID_OFFSET == 4);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_MINOR_OFFSET == 5);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET == 6);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_REQUEST_ID_OFFSET == 8);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_CONN_ID_OFFSET == 16);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET == 24);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_HEAD_OFF_OFFSET == 32);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_HEAD_LEN_OFFSET == 36);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_BODY_OFF_OFFSET == 40);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_BODY_LEN_OFFSET == 44);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET == 48);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET == 56);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_PATH_SPAN_OFFSET == 64);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_QUERY_SPAN_OFFSET == 72);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_AUTHORITY_SPAN_OFFSET == 80);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_HOST_SPAN_OFFSET == 88);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_REMOTE_IP_OFFSET == 96);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_LOCAL_IP_OFFSET == 112);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET == 128);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET == 130);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_TABLE_OFF_OFFSET == 132);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_HEADER_LEN == 136);
HW_BRIDGE__CHECK(HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + HW_BRIDGE_SPAN_COUNT * HW_BRIDGE_SPAN_SIZE ==
                 HW_BRIDGE_VIEW_REMOTE_IP_OFFSET);
HW_BRIDGE__CHECK(HW_BRIDGE_RESPONSE_FLAGS_OFFSET == 2);
HW_BRIDGE__CHECK(HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET == 3);
HW_BRIDGE__CHECK(HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET == 4);
HW_BRIDGE__CHECK(HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET == 8);
HW_BRIDGE__CHECK(HW_BRIDGE_RESPONSE_HEAD_LEN == 16);
#ifdef HAYWIRE_SHM_H
HW_BRIDGE__CHECK(HW_BRIDGE_KIND_REQUEST == HW_SHM_KIND_REQUEST);
HW_BRIDGE__CHECK(HW_BRIDGE_KIND_CANCEL == HW_SHM_KIND_CANCEL);
HW_BRIDGE__CHECK(HW_BRIDGE_KIND_RESPONSE == HW_SHM_KIND_RESPONSE);
HW_BRIDGE__CHECK(HW_BRIDGE_KIND_BODY == HW_SHM_KIND_BODY);
HW_BRIDGE__CHECK(HW_BRIDGE_KIND_END == HW_SHM_KIND_END);
HW_BRIDGE__CHECK(HW_BRIDGE_KIND_CONTINUE == HW_SHM_KIND_CONTINUE);
#endif

/*
** ======================================================================
** 6. HELPERS
** ======================================================================
**
** A reference implementation of sections 3 and 4. Pure functions of their
** arguments: safe from any thread. The view accessors take a view that
** hw_bridge_view_check() accepted and return pointers INTO it (nothing is
** copied); they do no checking of their own.
*/

/* A byte range: p points into the view, len bytes. p is NULL only for an
** absent query (hw_bridge_view_query); an empty range has a non-NULL p. */
typedef struct hw_bridge_bytes {
  const uint8_t *p;
  size_t len;
} hw_bridge_bytes;

/* Little-endian loads and stores, a byte at a time. */
static inline uint16_t hw_bridge_get16(const uint8_t *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static inline uint32_t hw_bridge_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t hw_bridge_get64(const uint8_t *p) {
  return (uint64_t)hw_bridge_get32(p) | (uint64_t)hw_bridge_get32(p + 4) << 32;
}
/* Two's complement without implementation-defined conversions. */
static inline int64_t hw_bridge_geti64(const uint8_t *p) {
  uint64_t u = hw_bridge_get64(p);
  return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}
static inline void hw_bridge_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void hw_bridge_put32(uint8_t *p, uint32_t v) {
  hw_bridge_put16(p, (uint16_t)v);
  hw_bridge_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void hw_bridge_put64(uint8_t *p, uint64_t v) {
  hw_bridge_put32(p, (uint32_t)v);
  hw_bridge_put32(p + 4, (uint32_t)(v >> 32));
}

/* Error messages without <stdio.h>: append to a bounded, NUL-terminated
** buffer, truncating. */
typedef struct hw_bridge__msg {
  char *p;
  size_t cap, len;
} hw_bridge__msg;
static inline void hw_bridge__puts(hw_bridge__msg *m, const char *s) {
  if (m->p == NULL || m->cap == 0)
    return;
  while (*s != '\0' && m->len + 1 < m->cap)
    m->p[m->len++] = *s++;
  m->p[m->len] = '\0';
}
static inline void hw_bridge__putu(hw_bridge__msg *m, uint64_t v) {
  char d[21];
  int i = 20;
  d[i] = '\0';
  do
    d[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  hw_bridge__puts(m, d + i);
}

/* Span i (HW_BRIDGE_SPAN_*) of the fixed header. */
static inline uint32_t hw_bridge__span_off(const uint8_t *b, int i) {
  return hw_bridge_get32(b + HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + i * HW_BRIDGE_SPAN_SIZE + HW_BRIDGE_SPAN_OFF_OFFSET);
}
static inline uint32_t hw_bridge__span_len(const uint8_t *b, int i) {
  return hw_bridge_get32(b + HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET + i * HW_BRIDGE_SPAN_SIZE + HW_BRIDGE_SPAN_LEN_OFFSET);
}

/*
** Validate the n bytes at b as a request view: rules V1-V5 of section 3,
** exactly. On failure, if err is not NULL and errlen > 0, a message with
** the values is written into err (NUL-terminated, truncated to errlen).
** RETURNS: HW_BRIDGE_OK, HW_BRIDGE_ESHORT, HW_BRIDGE_EVERSION,
** HW_BRIDGE_EBOUNDS, HW_BRIDGE_ESPAN, HW_BRIDGE_EFIELD.
*/
static inline int hw_bridge_view_check(const uint8_t *b, size_t n, char *err, size_t errlen) {
  hw_bridge__msg m;
  uint64_t size = (uint64_t)n, tab_off, head_off, head_len, body_off, body_len, count, i;
  uint32_t version;
  int s;
  m.p = err;
  m.cap = errlen;
  m.len = 0;
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (b == NULL || n < HW_BRIDGE_VIEW_HEADER_LEN) { /* V1 */
    hw_bridge__puts(&m, "view is ");
    hw_bridge__putu(&m, b == NULL ? 0 : size);
    hw_bridge__puts(&m, " bytes, the fixed header alone is 136");
    return HW_BRIDGE_ESHORT;
  }
  version = hw_bridge_get16(b + HW_BRIDGE_VIEW_VERSION_OFFSET);
  if (version != HW_BRIDGE_VIEW_VERSION) { /* V2 */
    hw_bridge__puts(&m, "view version ");
    hw_bridge__putu(&m, version);
    hw_bridge__puts(&m, ", this header is version 2");
    return HW_BRIDGE_EVERSION;
  }
  count = hw_bridge_get16(b + HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET);
  tab_off = hw_bridge_get32(b + HW_BRIDGE_VIEW_TABLE_OFF_OFFSET);
  head_off = hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET);
  head_len = hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_LEN_OFFSET);
  body_off = hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_OFF_OFFSET);
  body_len = hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_LEN_OFFSET);
  if (tab_off != HW_BRIDGE_VIEW_HEADER_LEN || head_off != tab_off + count * HW_BRIDGE_FIELD_ENTRY_SIZE ||
      body_off != head_off + head_len || body_off + body_len != size) { /* V3 */
    hw_bridge__puts(&m, "table ");
    hw_bridge__putu(&m, tab_off);
    hw_bridge__puts(&m, "+");
    hw_bridge__putu(&m, count);
    hw_bridge__puts(&m, "x16, head ");
    hw_bridge__putu(&m, head_off);
    hw_bridge__puts(&m, "+");
    hw_bridge__putu(&m, head_len);
    hw_bridge__puts(&m, ", body ");
    hw_bridge__putu(&m, body_off);
    hw_bridge__puts(&m, "+");
    hw_bridge__putu(&m, body_len);
    hw_bridge__puts(&m, " outside ");
    hw_bridge__putu(&m, size);
    hw_bridge__puts(&m, " bytes");
    return HW_BRIDGE_EBOUNDS;
  }
  for (s = 0; s < HW_BRIDGE_SPAN_COUNT; s++) { /* V4 */
    uint64_t off = hw_bridge__span_off(b, s), len = hw_bridge__span_len(b, s);
    if (s == HW_BRIDGE_SPAN_QUERY && len == HW_BRIDGE_NO_QUERY)
      continue;
    if (off + len > head_len) {
      hw_bridge__puts(&m, "span ");
      hw_bridge__putu(&m, (uint64_t)s);
      hw_bridge__puts(&m, " (");
      hw_bridge__putu(&m, off);
      hw_bridge__puts(&m, "+");
      hw_bridge__putu(&m, len);
      hw_bridge__puts(&m, ") outside the ");
      hw_bridge__putu(&m, head_len);
      hw_bridge__puts(&m, "-byte head");
      return HW_BRIDGE_ESPAN;
    }
  }
  for (i = 0; i < count; i++) { /* V5 */
    const uint8_t *e = b + tab_off + i * HW_BRIDGE_FIELD_ENTRY_SIZE;
    uint64_t no = hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
    uint64_t nl = hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
    uint64_t vo = hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
    uint64_t vl = hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
    if (no + nl > head_len || vo + vl > head_len || nl == 0) {
      hw_bridge__puts(&m, "header field ");
      hw_bridge__putu(&m, i);
      hw_bridge__puts(&m, nl == 0 ? " has an empty name" : " outside the head");
      return HW_BRIDGE_EFIELD;
    }
  }
  return HW_BRIDGE_OK;
}

/* --- Accessors: b is a view hw_bridge_view_check() accepted. --- */

static inline uint16_t hw_bridge_view_flags(const uint8_t *b) { return hw_bridge_get16(b + HW_BRIDGE_VIEW_FLAGS_OFFSET); }
static inline uint8_t hw_bridge_view_method_id(const uint8_t *b) { return b[HW_BRIDGE_VIEW_METHOD_ID_OFFSET]; }
static inline uint8_t hw_bridge_view_minor(const uint8_t *b) { return b[HW_BRIDGE_VIEW_MINOR_OFFSET]; }
static inline uint16_t hw_bridge_view_num_fields(const uint8_t *b) {
  return hw_bridge_get16(b + HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET);
}
static inline uint64_t hw_bridge_view_request_id(const uint8_t *b) {
  return hw_bridge_get64(b + HW_BRIDGE_VIEW_REQUEST_ID_OFFSET);
}
static inline uint64_t hw_bridge_view_conn_id(const uint8_t *b) { return hw_bridge_get64(b + HW_BRIDGE_VIEW_CONN_ID_OFFSET); }
/* The Content-Length sent, 0 without a body, -1 for a chunked body. */
static inline int64_t hw_bridge_view_content_length(const uint8_t *b) {
  return hw_bridge_geti64(b + HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET);
}

/* The raw request head and the body. */
static inline hw_bridge_bytes hw_bridge_view_head(const uint8_t *b) {
  hw_bridge_bytes r;
  r.p = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET);
  r.len = hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_LEN_OFFSET);
  return r;
}
static inline hw_bridge_bytes hw_bridge_view_body(const uint8_t *b) {
  hw_bridge_bytes r;
  r.p = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_OFF_OFFSET);
  r.len = hw_bridge_get32(b + HW_BRIDGE_VIEW_BODY_LEN_OFFSET);
  return r;
}

/* The bytes of span i (HW_BRIDGE_SPAN_*). For HW_BRIDGE_SPAN_QUERY use
** hw_bridge_view_query, which knows HW_BRIDGE_NO_QUERY. */
static inline hw_bridge_bytes hw_bridge_view_span(const uint8_t *b, int i) {
  hw_bridge_bytes r;
  r.p = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET) + hw_bridge__span_off(b, i);
  r.len = hw_bridge__span_len(b, i);
  return r;
}
static inline hw_bridge_bytes hw_bridge_view_method(const uint8_t *b) { return hw_bridge_view_span(b, HW_BRIDGE_SPAN_METHOD); }
static inline hw_bridge_bytes hw_bridge_view_target(const uint8_t *b) { return hw_bridge_view_span(b, HW_BRIDGE_SPAN_TARGET); }
/* The path, still percent-encoded; empty means "/" (absolute-form). */
static inline hw_bridge_bytes hw_bridge_view_path(const uint8_t *b) { return hw_bridge_view_span(b, HW_BRIDGE_SPAN_PATH); }
/* The query without '?'; p == NULL when the target has no '?'. */
static inline hw_bridge_bytes hw_bridge_view_query(const uint8_t *b) {
  hw_bridge_bytes r;
  if (hw_bridge__span_len(b, HW_BRIDGE_SPAN_QUERY) == HW_BRIDGE_NO_QUERY) {
    r.p = NULL;
    r.len = 0;
    return r;
  }
  return hw_bridge_view_span(b, HW_BRIDGE_SPAN_QUERY);
}
/* The authority of an absolute-form target; empty otherwise. */
static inline hw_bridge_bytes hw_bridge_view_authority(const uint8_t *b) {
  return hw_bridge_view_span(b, HW_BRIDGE_SPAN_AUTHORITY);
}
/* The Host field's value; empty without one. */
static inline hw_bridge_bytes hw_bridge_view_host(const uint8_t *b) { return hw_bridge_view_span(b, HW_BRIDGE_SPAN_HOST); }

/* Header field i (0 <= i < num_fields) in the order received. Returns 0,
** or -1 (and leaves name and value alone) when i is out of range. */
static inline int hw_bridge_view_field(const uint8_t *b, uint32_t i, hw_bridge_bytes *name, hw_bridge_bytes *value) {
  const uint8_t *head, *e;
  if (i >= hw_bridge_view_num_fields(b))
    return -1;
  head = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_HEAD_OFF_OFFSET);
  e = b + hw_bridge_get32(b + HW_BRIDGE_VIEW_TABLE_OFF_OFFSET) + (size_t)i * HW_BRIDGE_FIELD_ENTRY_SIZE;
  name->p = head + hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
  name->len = hw_bridge_get32(e + HW_BRIDGE_FIELD_NAME_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
  value->p = head + hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_OFF_OFFSET);
  value->len = hw_bridge_get32(e + HW_BRIDGE_FIELD_VALUE_OFFSET + HW_BRIDGE_SPAN_LEN_OFFSET);
  return 0;
}

/* Addresses: 16 bytes in place (IPv6 order) and the port. */
static inline const uint8_t *hw_bridge_view_remote_ip(const uint8_t *b) { return b + HW_BRIDGE_VIEW_REMOTE_IP_OFFSET; }
static inline const uint8_t *hw_bridge_view_local_ip(const uint8_t *b) { return b + HW_BRIDGE_VIEW_LOCAL_IP_OFFSET; }
static inline uint16_t hw_bridge_view_remote_port(const uint8_t *b) {
  return hw_bridge_get16(b + HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET);
}
static inline uint16_t hw_bridge_view_local_port(const uint8_t *b) {
  return hw_bridge_get16(b + HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET);
}
/* 1 if ip is IPv4-mapped (::ffff:a.b.c.d): the IPv4 address is ip[12..15]. */
static inline int hw_bridge_ip_is_v4(const uint8_t *ip) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return memcmp(ip, prefix, sizeof prefix) == 0;
}

/* --- Responses (section 4) --- */

/* Bytes a response message with these parts takes. */
static inline uint64_t hw_bridge_response_len(size_t reason_len, size_t fields_len, size_t body_len) {
  return (uint64_t)HW_BRIDGE_RESPONSE_HEAD_LEN + reason_len + fields_len + body_len;
}

/*
** Write a response message into dst (cap bytes): status (100..999),
** flags (0, or HW_BRIDGE_RESPONSE_F_STREAM when BODY pieces will follow),
** reason (NUL-terminated; NULL or "" for the standard phrase), the header
** block fields[0..fields_len) ("Name: value\r\n" lines, see
** hw_bridge_next_field), content_length (body_len -- with STREAM, the
** whole body's length, at least body_len -- or -1 not to announce it) and
** the body (with STREAM, its first bytes). NULL is allowed for any pointer whose length is 0, and
** for dst when cap is 0.
** RETURNS: the message length, or 0 -- with dst untouched -- when it does
** not fit in cap or when the arguments cannot make a message the engine
** accepts: status outside 100..999, unknown flags, a reason longer than
** 255 bytes, fields_len above 2^32-1, or content_length other than -1 and
** body_len (with STREAM: other than -1 and below body_len).
** The header block's lines are not checked: see section 4.
*/
static inline size_t hw_bridge_response_encode(uint8_t *dst, size_t cap, int status, unsigned flags, const char *reason,
                                               const char *fields, size_t fields_len, int64_t content_length,
                                               const void *body, size_t body_len) {
  size_t reason_len = reason == NULL ? 0 : strlen(reason), off;
  uint64_t total;
  if (status < HW_BRIDGE_RESPONSE_MIN_STATUS || status > HW_BRIDGE_RESPONSE_MAX_STATUS ||
      (flags & ~(unsigned)HW_BRIDGE_RESPONSE_F_STREAM) != 0 || reason_len > HW_BRIDGE_RESPONSE_MAX_REASON ||
      (uint64_t)fields_len > UINT32_MAX)
    return 0;
  if (content_length != -1 &&
      (content_length < 0 || ((flags & HW_BRIDGE_RESPONSE_F_STREAM) ? (uint64_t)content_length < (uint64_t)body_len
                                                                    : (uint64_t)content_length != (uint64_t)body_len)))
    return 0;
  total = hw_bridge_response_len(reason_len, fields_len, body_len);
  if (total > (uint64_t)cap || total < (uint64_t)body_len) /* the second: the sum wrapped */
    return 0;
  hw_bridge_put16(dst + HW_BRIDGE_RESPONSE_STATUS_OFFSET, (uint16_t)status);
  dst[HW_BRIDGE_RESPONSE_FLAGS_OFFSET] = (uint8_t)flags;
  dst[HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET] = (uint8_t)reason_len;
  hw_bridge_put32(dst + HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET, (uint32_t)fields_len);
  hw_bridge_put64(dst + HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET, (uint64_t)content_length);
  off = HW_BRIDGE_RESPONSE_HEAD_LEN;
  if (reason_len > 0)
    memcpy(dst + off, reason, reason_len);
  off += reason_len;
  if (fields_len > 0)
    memcpy(dst + off, fields, fields_len);
  off += fields_len;
  if (body_len > 0)
    memcpy(dst + off, body, body_len);
  return off + body_len;
}

/*
** Split the first "Name: value\r\n" line off the header block
** block[0..len): the line ends at the first CRLF; name is what precedes
** the first ':' in it, value what follows with leading SP and HTAB
** removed; *rest and *rest_len are the block after the CRLF (all pointers
** into block). RETURNS 1, or 0 (outputs untouched) at the end of the block
** or on a line without CRLF, without ':' or with an empty name -- the
** rules bridge.NextField and the engine apply (section 4).
*/
static inline int hw_bridge_next_field(const char *block, size_t len, hw_bridge_bytes *name, hw_bridge_bytes *value,
                                       const char **rest, size_t *rest_len) {
  size_t end, colon, v;
  for (end = 0; end + 1 < len; end++)
    if (block[end] == '\r' && block[end + 1] == '\n')
      break;
  if (end + 1 >= len)
    return 0;
  for (colon = 0; colon < end && block[colon] != ':'; colon++)
    ;
  if (colon == 0 || colon == end)
    return 0;
  for (v = colon + 1; v < end && (block[v] == ' ' || block[v] == '\t'); v++)
    ;
  name->p = (const uint8_t *)block;
  name->len = colon;
  value->p = (const uint8_t *)block + v;
  value->len = end - v;
  *rest = block + end + 2;
  *rest_len = len - end - 2;
  return 1;
}

#endif /* HAYWIRE_BRIDGE_H */
