//go:build cgo

package shmcheck

/*
#cgo CFLAGS: -std=c11 -I${SRCDIR}/../../../include
#include <stdlib.h>
#include "haywire_shm_impl.h"

// Sizes through functions: cgo need not translate the structs (it does not
// know _Atomic).
static unsigned long long hw_sizeof_header(void) { return sizeof(hw_shm_header); }
static unsigned long long hw_sizeof_ring_ctrl(void) { return sizeof(hw_shm_ring_ctrl); }
static unsigned long long hw_sizeof_desc(void) { return sizeof(hw_shm_desc); }
static unsigned long long hw_sizeof_side(void) { return sizeof(hw_shm_side); }
static unsigned long long hw_sizeof_bell(void) { return sizeof(hw_shm_bell); }
static unsigned long long hw_sizeof_ring_entry(void) { return sizeof(hw_shm_ring_entry); }
static unsigned long long hw_sizeof_arena_entry(void) { return sizeof(hw_shm_arena_entry); }
static unsigned long long hw_offsetof_bells(void) { return offsetof(hw_shm_header, bells); }
static unsigned long long hw_offsetof_desc_gen(void) { return offsetof(hw_shm_desc, gen); }
static unsigned long long hw_offsetof_ring_head(void) { return offsetof(hw_shm_ring_ctrl, head); }
static const char *hw_name_prefix(void) { return HW_SHM_NAME_PREFIX; }
static int hw_lane_name(char *buf, size_t len, const char *base, unsigned k) { return hw_shm_lane_name(buf, len, base, k); }
*/
import "C"

import "unsafe"

// Macros returns the header's numeric macros and a few struct sizes and
// offsets computed by the C compiler, by name.
func Macros() map[string]uint64 {
	return map[string]uint64{
		"HW_SHM_LAYOUT_VERSION":                 C.HW_SHM_LAYOUT_VERSION,
		"HW_SHM_MAGIC":                          C.HW_SHM_MAGIC,
		"HW_SHM_HEADER_SIZE":                    C.HW_SHM_HEADER_SIZE,
		"HW_SHM_BLOCK":                          C.HW_SHM_BLOCK,
		"HW_SHM_RING_COUNT":                     C.HW_SHM_RING_COUNT,
		"HW_SHM_ARENA_COUNT":                    C.HW_SHM_ARENA_COUNT,
		"HW_SHM_SIDE_COUNT":                     C.HW_SHM_SIDE_COUNT,
		"HW_SHM_MAX_TOTAL_SIZE":                 C.HW_SHM_MAX_TOTAL_SIZE,
		"HW_SHM_MIN_LIVENESS_MS":                C.HW_SHM_MIN_LIVENESS_MS,
		"HW_SHM_MAX_LIVENESS_MS":                C.HW_SHM_MAX_LIVENESS_MS,
		"HW_SHM_SECTION_ALIGN":                  C.HW_SHM_SECTION_ALIGN,
		"HW_SHM_ARENA_ALIGN":                    C.HW_SHM_ARENA_ALIGN,
		"HW_SHM_NAME_LEN":                       C.HW_SHM_NAME_LEN,
		"HW_SHM_NAME_MAX":                       C.HW_SHM_NAME_MAX,
		"HW_SHM_MAX_LANES":                      C.HW_SHM_MAX_LANES,
		"HW_SHM_RING_DATA0":                     C.HW_SHM_RING_DATA0,
		"HW_SHM_RING_DATA1":                     C.HW_SHM_RING_DATA1,
		"HW_SHM_RING_RELEASE0":                  C.HW_SHM_RING_RELEASE0,
		"HW_SHM_RING_RELEASE1":                  C.HW_SHM_RING_RELEASE1,
		"HW_SHM_ROLE_DATA":                      C.HW_SHM_ROLE_DATA,
		"HW_SHM_ROLE_RELEASE":                   C.HW_SHM_ROLE_RELEASE,
		"HW_SHM_STATE_FREE":                     C.HW_SHM_STATE_FREE,
		"HW_SHM_STATE_ATTACHING":                C.HW_SHM_STATE_ATTACHING,
		"HW_SHM_STATE_ACTIVE":                   C.HW_SHM_STATE_ACTIVE,
		"HW_SHM_STATE_DETACHED":                 C.HW_SHM_STATE_DETACHED,
		"HW_SHM_FLAG_CLOSED":                    C.HW_SHM_FLAG_CLOSED,
		"HW_SHM_COUNTER_WAKEUPS":                C.HW_SHM_COUNTER_WAKEUPS,
		"HW_SHM_COUNTER_SLEEPS":                 C.HW_SHM_COUNTER_SLEEPS,
		"HW_SHM_COUNTER_RING_FULL":              C.HW_SHM_COUNTER_RING_FULL,
		"HW_SHM_COUNTER_ARENA_FULL":             C.HW_SHM_COUNTER_ARENA_FULL,
		"HW_SHM_COUNTER_INVALID":                C.HW_SHM_COUNTER_INVALID,
		"HW_SHM_COUNTER_STALE":                  C.HW_SHM_COUNTER_STALE,
		"HW_SHM_COUNTER_PEER_DEATHS":            C.HW_SHM_COUNTER_PEER_DEATHS,
		"HW_SHM_COUNTER_RECLAIMS":               C.HW_SHM_COUNTER_RECLAIMS,
		"HW_SHM_COUNTER_RECLAIMED_DESCS":        C.HW_SHM_COUNTER_RECLAIMED_DESCS,
		"HW_SHM_COUNTER_RECLAIMED_CHUNKS":       C.HW_SHM_COUNTER_RECLAIMED_CHUNKS,
		"HW_SHM_COUNTER_ATTACHES":               C.HW_SHM_COUNTER_ATTACHES,
		"HW_SHM_COUNTER_SLEEP_TIMEOUTS":         C.HW_SHM_COUNTER_SLEEP_TIMEOUTS,
		"HW_SHM_NUM_COUNTERS":                   C.HW_SHM_NUM_COUNTERS,
		"HW_SHM_MAGIC_OFFSET":                   C.HW_SHM_MAGIC_OFFSET,
		"HW_SHM_VERSION_OFFSET":                 C.HW_SHM_VERSION_OFFSET,
		"HW_SHM_HEADER_SIZE_OFFSET":             C.HW_SHM_HEADER_SIZE_OFFSET,
		"HW_SHM_TOTAL_SIZE_OFFSET":              C.HW_SHM_TOTAL_SIZE_OFFSET,
		"HW_SHM_CREATOR_PID_OFFSET":             C.HW_SHM_CREATOR_PID_OFFSET,
		"HW_SHM_LIVENESS_OFFSET":                C.HW_SHM_LIVENESS_OFFSET,
		"HW_SHM_CREATOR_TOKEN_OFFSET":           C.HW_SHM_CREATOR_TOKEN_OFFSET,
		"HW_SHM_CREATED_OFFSET":                 C.HW_SHM_CREATED_OFFSET,
		"HW_SHM_UUID_OFFSET":                    C.HW_SHM_UUID_OFFSET,
		"HW_SHM_RING_COUNT_OFFSET":              C.HW_SHM_RING_COUNT_OFFSET,
		"HW_SHM_ARENA_COUNT_OFFSET":             C.HW_SHM_ARENA_COUNT_OFFSET,
		"HW_SHM_LANE_OFFSET":                    C.HW_SHM_LANE_OFFSET,
		"HW_SHM_LANES_OFFSET":                   C.HW_SHM_LANES_OFFSET,
		"HW_SHM_RING_TABLE_OFFSET":              C.HW_SHM_RING_TABLE_OFFSET,
		"HW_SHM_ARENA_TABLE_OFFSET":             C.HW_SHM_ARENA_TABLE_OFFSET,
		"HW_SHM_CONTROL_OFFSET":                 C.HW_SHM_CONTROL_OFFSET,
		"HW_SHM_EPOCH_SOURCE_OFFSET":            C.HW_SHM_EPOCH_SOURCE_OFFSET,
		"HW_SHM_FLAGS_OFFSET":                   C.HW_SHM_FLAGS_OFFSET,
		"HW_SHM_SIDE_OFFSET":                    C.HW_SHM_SIDE_OFFSET,
		"HW_SHM_COUNTERS_OFFSET":                C.HW_SHM_COUNTERS_OFFSET,
		"HW_SHM_BELLS_OFFSET":                   C.HW_SHM_BELLS_OFFSET,
		"HW_SHM_RING_ENTRY_SIZE":                C.HW_SHM_RING_ENTRY_SIZE,
		"HW_SHM_RING_ENTRY_OFFSET_OFFSET":       C.HW_SHM_RING_ENTRY_OFFSET_OFFSET,
		"HW_SHM_RING_ENTRY_SIZE_OFFSET":         C.HW_SHM_RING_ENTRY_SIZE_OFFSET,
		"HW_SHM_RING_ENTRY_SLOT_SIZE_OFFSET":    C.HW_SHM_RING_ENTRY_SLOT_SIZE_OFFSET,
		"HW_SHM_RING_ENTRY_SLOT_COUNT_OFFSET":   C.HW_SHM_RING_ENTRY_SLOT_COUNT_OFFSET,
		"HW_SHM_RING_ENTRY_PRODUCER_OFFSET":     C.HW_SHM_RING_ENTRY_PRODUCER_OFFSET,
		"HW_SHM_RING_ENTRY_ROLE_OFFSET":         C.HW_SHM_RING_ENTRY_ROLE_OFFSET,
		"HW_SHM_ARENA_ENTRY_SIZE":               C.HW_SHM_ARENA_ENTRY_SIZE,
		"HW_SHM_ARENA_ENTRY_OFFSET_OFFSET":      C.HW_SHM_ARENA_ENTRY_OFFSET_OFFSET,
		"HW_SHM_ARENA_ENTRY_SIZE_OFFSET":        C.HW_SHM_ARENA_ENTRY_SIZE_OFFSET,
		"HW_SHM_ARENA_ENTRY_CHUNK_SIZE_OFFSET":  C.HW_SHM_ARENA_ENTRY_CHUNK_SIZE_OFFSET,
		"HW_SHM_ARENA_ENTRY_CHUNK_COUNT_OFFSET": C.HW_SHM_ARENA_ENTRY_CHUNK_COUNT_OFFSET,
		"HW_SHM_ARENA_ENTRY_WRITER_OFFSET":      C.HW_SHM_ARENA_ENTRY_WRITER_OFFSET,
		"HW_SHM_MIN_CHUNK_SIZE":                 C.HW_SHM_MIN_CHUNK_SIZE,
		"HW_SHM_MAX_CHUNK_SIZE":                 C.HW_SHM_MAX_CHUNK_SIZE,
		"HW_SHM_MAX_CHUNKS":                     C.HW_SHM_MAX_CHUNKS,
		"HW_SHM_MAX_ARENA_SIZE":                 C.HW_SHM_MAX_ARENA_SIZE,
		"HW_SHM_SIDE_CLAIM_OFFSET":              C.HW_SHM_SIDE_CLAIM_OFFSET,
		"HW_SHM_SIDE_EPOCH_OFFSET":              C.HW_SHM_SIDE_EPOCH_OFFSET,
		"HW_SHM_SIDE_BEAT_OFFSET":               C.HW_SHM_SIDE_BEAT_OFFSET,
		"HW_SHM_SIDE_HEARTBEAT_OFFSET":          C.HW_SHM_SIDE_HEARTBEAT_OFFSET,
		"HW_SHM_SIDE_TOKEN_OFFSET":              C.HW_SHM_SIDE_TOKEN_OFFSET,
		"HW_SHM_SIDE_ATTACHED_OFFSET":           C.HW_SHM_SIDE_ATTACHED_OFFSET,
		"HW_SHM_BELL_SEQ_OFFSET":                C.HW_SHM_BELL_SEQ_OFFSET,
		"HW_SHM_BELL_SLEEPING_OFFSET":           C.HW_SHM_BELL_SLEEPING_OFFSET,
		"HW_SHM_RING_MAGIC":                     C.HW_SHM_RING_MAGIC,
		"HW_SHM_RING_GEOMETRY_OFFSET":           C.HW_SHM_RING_GEOMETRY_OFFSET,
		"HW_SHM_RING_MAGIC_OFFSET":              C.HW_SHM_RING_MAGIC_OFFSET,
		"HW_SHM_RING_SLOT_SIZE_OFFSET":          C.HW_SHM_RING_SLOT_SIZE_OFFSET,
		"HW_SHM_RING_SLOT_COUNT_OFFSET":         C.HW_SHM_RING_SLOT_COUNT_OFFSET,
		"HW_SHM_RING_FLAGS_OFFSET":              C.HW_SHM_RING_FLAGS_OFFSET,
		"HW_SHM_RING_TAIL_OFFSET":               C.HW_SHM_RING_TAIL_OFFSET,
		"HW_SHM_RING_HEAD_OFFSET":               C.HW_SHM_RING_HEAD_OFFSET,
		"HW_SHM_RING_HEADER_SIZE":               C.HW_SHM_RING_HEADER_SIZE,
		"HW_SHM_RING_MIN_SLOTS":                 C.HW_SHM_RING_MIN_SLOTS,
		"HW_SHM_RING_MAX_SLOTS":                 C.HW_SHM_RING_MAX_SLOTS,
		"HW_SHM_DESC_SIZE":                      C.HW_SHM_DESC_SIZE,
		"HW_SHM_DESC_KIND_OFFSET":               C.HW_SHM_DESC_KIND_OFFSET,
		"HW_SHM_DESC_FLAGS_OFFSET":              C.HW_SHM_DESC_FLAGS_OFFSET,
		"HW_SHM_DESC_AUX_OFFSET":                C.HW_SHM_DESC_AUX_OFFSET,
		"HW_SHM_DESC_EPOCH_OFFSET":              C.HW_SHM_DESC_EPOCH_OFFSET,
		"HW_SHM_DESC_STREAM_OFFSET":             C.HW_SHM_DESC_STREAM_OFFSET,
		"HW_SHM_DESC_CONN_OFFSET":               C.HW_SHM_DESC_CONN_OFFSET,
		"HW_SHM_DESC_OFFSET_OFFSET":             C.HW_SHM_DESC_OFFSET_OFFSET,
		"HW_SHM_DESC_LENGTH_OFFSET":             C.HW_SHM_DESC_LENGTH_OFFSET,
		"HW_SHM_DESC_GEN_OFFSET":                C.HW_SHM_DESC_GEN_OFFSET,
		"HW_SHM_KIND_REQUEST":                   C.HW_SHM_KIND_REQUEST,
		"HW_SHM_KIND_BODY":                      C.HW_SHM_KIND_BODY,
		"HW_SHM_KIND_END":                       C.HW_SHM_KIND_END,
		"HW_SHM_KIND_CANCEL":                    C.HW_SHM_KIND_CANCEL,
		"HW_SHM_KIND_RESPONSE":                  C.HW_SHM_KIND_RESPONSE,
		"HW_SHM_KIND_RELEASE":                   C.HW_SHM_KIND_RELEASE,
		"HW_SHM_KIND_UPGRADE":                   C.HW_SHM_KIND_UPGRADE,
		"HW_SHM_KIND_DATA":                      C.HW_SHM_KIND_DATA,
		"HW_SHM_KIND_NOP":                       C.HW_SHM_KIND_NOP,
		"HW_SHM_KIND_CONTINUE":                  C.HW_SHM_KIND_CONTINUE,
		"HW_SHM_KIND_COUNT":                     C.HW_SHM_KIND_COUNT,
		"HW_SHM_DF_END":                         C.HW_SHM_DF_END,
		"HW_SHM_DF_MORE":                        C.HW_SHM_DF_MORE,

		"sizeof(hw_shm_header)":            uint64(C.hw_sizeof_header()),
		"sizeof(hw_shm_ring_ctrl)":         uint64(C.hw_sizeof_ring_ctrl()),
		"sizeof(hw_shm_desc)":              uint64(C.hw_sizeof_desc()),
		"sizeof(hw_shm_side)":              uint64(C.hw_sizeof_side()),
		"sizeof(hw_shm_bell)":              uint64(C.hw_sizeof_bell()),
		"sizeof(hw_shm_ring_entry)":        uint64(C.hw_sizeof_ring_entry()),
		"sizeof(hw_shm_arena_entry)":       uint64(C.hw_sizeof_arena_entry()),
		"offsetof(hw_shm_header, bells)":   uint64(C.hw_offsetof_bells()),
		"offsetof(hw_shm_desc, gen)":       uint64(C.hw_offsetof_desc_gen()),
		"offsetof(hw_shm_ring_ctrl, head)": uint64(C.hw_offsetof_ring_head()),
	}
}

// NamePrefix returns HW_SHM_NAME_PREFIX.
func NamePrefix() string { return C.GoString(C.hw_name_prefix()) }

// ErrorCodes returns the HW_SHM_ERRNO_MAP codes by name (without the
// HW_SHM_ prefix).
func ErrorCodes() map[string]int {
	return map[string]int{
		"OK":         C.HW_SHM_OK,
		"ETRUNCATED": C.HW_SHM_ETRUNCATED,
		"EMAGIC":     C.HW_SHM_EMAGIC,
		"EVERSION":   C.HW_SHM_EVERSION,
		"ELAYOUT":    C.HW_SHM_ELAYOUT,
		"EBUSY":      C.HW_SHM_EBUSY,
		"EFENCED":    C.HW_SHM_EFENCED,
		"EDESC":      C.HW_SHM_EDESC,
		"ESTALE":     C.HW_SHM_ESTALE,
		"ECORRUPT":   C.HW_SHM_ECORRUPT,
		"ETIMEDOUT":  C.HW_SHM_ETIMEDOUT,
		"ENAME":      C.HW_SHM_ENAME,
	}
}

// ParseName runs hw_shm_name_parse on name: its code, and on success the
// uuid bytes and the lane.
func ParseName(name string) (code int, id [16]byte, lane uint32) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var cid [16]C.uint8_t
	var cl C.uint32_t
	code = int(C.hw_shm_name_parse(cs, &cid[0], &cl))
	for i := range id {
		id[i] = byte(cid[i])
	}
	return code, id, uint32(cl)
}

// LaneName runs hw_shm_lane_name(base, k): its code and the name built.
func LaneName(base string, k uint32) (int, string) {
	cs := C.CString(base)
	defer C.free(unsafe.Pointer(cs))
	var buf [C.HW_SHM_NAME_MAX + 1]C.char
	code := int(C.hw_lane_name(&buf[0], C.size_t(len(buf)), cs, C.unsigned(k)))
	return code, C.GoString(&buf[0])
}
