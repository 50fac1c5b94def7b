/*
** bridge_check -- runs the helpers of haywire_bridge.h on inputs prepared
** by the Go tests (bridge/wire/cview_test.go), which compare the results
** with package bridge/wire: two implementations of one contract must agree.
** Includes only haywire_bridge.h and ISO C, and is compiled with
** -std=c11 -pedantic -Wall -Wextra -Werror to prove the header needs
** nothing else.
**
** Input files are records: a u32 little-endian length, then that many
** bytes. Each record is copied into a buffer of exactly its size, so a
** sanitizer build catches any read past it.
**
**   bridge_check layout
**       prints "NAME VALUE" for every layout macro of the header.
**   bridge_check methods
**       prints "NUMBER NAME STRING" for every entry of
**       HW_BRIDGE_METHOD_MAP, as the enum hw_bridge_method sees it.
**   bridge_check views FILE
**       one line per view: "reject CODE MESSAGE", or "ok" followed by
**       every accessor's result (a range as OFFSET+LEN:FNV, OFFSET from
**       the start of the view, FNV the FNV-1a hash of its bytes).
**   bridge_check fields FILE
**       one line per header block: "NAMEHEX:VALUEHEX" for each field
**       hw_bridge_next_field splits off, then "end" (block consumed) or
**       "stop" (it returned 0 with bytes left).
**   bridge_check response IN OUT
**       IN records: i32 status, u32 cap, i64 content_length, u8 flags
**       (1: pass reason NULL), then u32-length-prefixed reason, fields
**       and body. Encodes each with hw_bridge_response_encode into a
**       buffer of cap bytes (plus a guard zone it checks) and writes a
**       record to OUT: the bytes written, empty when it returned 0.
** Exit status: 0, or 1 on a usage/I/O error or a broken invariant.
*/
#include "haywire_bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  fprintf(stderr, "bridge_check: %s\n", what);
  return 1;
}

/* Read the whole file; *n is its size. */
static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long size;
  if (f == NULL)
    return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  buf = malloc((size_t)size + 1);
  if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *n = (size_t)size;
  return buf;
}

/* Next record of in[*pos..n) as an exactly-sized heap copy (NULL for an
** empty one); returns 0 at the end, -1 on a malformed file. */
static int next_record(const uint8_t *in, size_t n, size_t *pos, uint8_t **rec, size_t *len) {
  uint32_t l;
  if (*pos == n)
    return 0;
  if (n - *pos < 4)
    return -1;
  l = hw_bridge_get32(in + *pos);
  *pos += 4;
  if (n - *pos < l)
    return -1;
  *rec = NULL;
  if (l > 0) {
    if ((*rec = malloc(l)) == NULL)
      return -1;
    memcpy(*rec, in + *pos, l);
  }
  *len = l;
  *pos += l;
  return 1;
}

static void hex(const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    printf("%02x", p[i]);
}

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  while (n-- > 0)
    h = (h ^ *p++) * 16777619u;
  return h;
}

/* " key=OFF+LEN:FNV", or " key=-" for a NULL range. Sets *oob when the
** range leaves the view. */
static void range(const char *key, hw_bridge_bytes r, const uint8_t *b, size_t n, int *oob) {
  printf(" %s=", key);
  if (r.p == NULL) {
    printf("-");
    return;
  }
  if (r.p < b || (size_t)(r.p - b) > n || r.len > n - (size_t)(r.p - b)) {
    *oob = 1;
    printf("OOB");
    return;
  }
  printf("%zu+%zu:%08lx", (size_t)(r.p - b), r.len, (unsigned long)fnv1a(r.p, r.len));
}

static void addr(const char *key, const uint8_t *ip, uint16_t port) {
  printf(" %s=", key);
  hex(ip, HW_BRIDGE_IP_SIZE);
  printf("/%u", (unsigned)port);
}

static int views(const char *path) {
  size_t n, pos = 0, len;
  uint8_t *in = slurp(path, &n), *b;
  int r, bad = 0;
  if (in == NULL)
    return fail("cannot read the views file");
  while ((r = next_record(in, n, &pos, &b, &len)) == 1) {
    char err[200];
    int rc = hw_bridge_view_check(b, len, err, sizeof err), oob = 0;
    uint32_t i;
    if (rc != HW_BRIDGE_OK) {
      printf("reject %d %s: %s\n", rc, hw_bridge_strerror(rc), err);
      free(b);
      continue;
    }
    printf("ok fl=%u mid=%u mi=%u rid=%llu cid=%llu cl=%lld nf=%u", (unsigned)hw_bridge_view_flags(b),
           (unsigned)hw_bridge_view_method_id(b), (unsigned)hw_bridge_view_minor(b),
           (unsigned long long)hw_bridge_view_request_id(b), (unsigned long long)hw_bridge_view_conn_id(b),
           (long long)hw_bridge_view_content_length(b), (unsigned)hw_bridge_view_num_fields(b));
    range("head", hw_bridge_view_head(b), b, len, &oob);
    range("body", hw_bridge_view_body(b), b, len, &oob);
    range("method", hw_bridge_view_method(b), b, len, &oob);
    range("target", hw_bridge_view_target(b), b, len, &oob);
    range("path", hw_bridge_view_path(b), b, len, &oob);
    range("query", hw_bridge_view_query(b), b, len, &oob);
    range("authority", hw_bridge_view_authority(b), b, len, &oob);
    range("host", hw_bridge_view_host(b), b, len, &oob);
    addr("remote", hw_bridge_view_remote_ip(b), hw_bridge_view_remote_port(b));
    addr("local", hw_bridge_view_local_ip(b), hw_bridge_view_local_port(b));
    for (i = 0; i < hw_bridge_view_num_fields(b); i++) {
      hw_bridge_bytes name, value;
      if (hw_bridge_view_field(b, i, &name, &value) != 0) {
        oob = 1;
        break;
      }
      range("name", name, b, len, &oob);
      range("value", value, b, len, &oob);
    }
    {
      hw_bridge_bytes name = {NULL, 7}, value = {NULL, 7};
      if (hw_bridge_view_field(b, hw_bridge_view_num_fields(b), &name, &value) != -1 || name.p != NULL ||
          name.len != 7)
        oob = 1; /* out-of-range index must fail and leave the outputs alone */
    }
    printf("\n");
    free(b);
    if (oob)
      bad = 1;
  }
  free(in);
  if (r < 0)
    return fail("malformed views file");
  return bad ? fail("an accessor left the view") : 0;
}

static int fields(const char *path) {
  size_t n, pos = 0, len;
  uint8_t *in = slurp(path, &n), *b;
  int r;
  if (in == NULL)
    return fail("cannot read the fields file");
  while ((r = next_record(in, n, &pos, &b, &len)) == 1) {
    const char *p = (const char *)b;
    size_t left = len;
    hw_bridge_bytes name, value;
    while (left > 0 && hw_bridge_next_field(p, left, &name, &value, &p, &left)) {
      hex(name.p, name.len);
      printf(":");
      hex(value.p, value.len);
      printf(" ");
    }
    printf("%s\n", left == 0 ? "end" : "stop");
    free(b);
  }
  free(in);
  return r < 0 ? fail("malformed fields file") : 0;
}

#define GUARD 64

static int response(const char *inpath, const char *outpath) {
  size_t n, pos = 0, len;
  uint8_t *in = slurp(inpath, &n), *rec;
  FILE *out;
  int r;
  if (in == NULL)
    return fail("cannot read the responses file");
  if ((out = fopen(outpath, "wb")) == NULL)
    return fail("cannot write the output file");
  while ((r = next_record(in, n, &pos, &rec, &len)) == 1) {
    uint8_t *dst, lenbuf[4];
    const uint8_t *p = rec, *part[3];
    uint32_t cap, plen[3];
    int status, k;
    int64_t cl;
    char *reason;
    size_t w, i, left = len;
    if (len < 17)
      return fail("short response record");
    cap = hw_bridge_get32(p); /* the i32 status, without implementation-defined conversions */
    status = cap <= INT32_MAX ? (int)cap : -(int)(~cap) - 1;
    cap = hw_bridge_get32(p + 4);
    cl = hw_bridge_geti64(p + 8);
    p += 17;
    left -= 17;
    for (k = 0; k < 3; k++) {
      if (left < 4 || left - 4 < hw_bridge_get32(p))
        return fail("malformed response record");
      plen[k] = hw_bridge_get32(p);
      part[k] = p + 4;
      p += 4 + plen[k];
      left -= 4 + plen[k];
    }
    /* The reason as a C string; the Go side never puts a NUL in it. */
    if ((reason = malloc(plen[0] + 1)) == NULL)
      return fail("out of memory");
    if (plen[0] > 0)
      memcpy(reason, part[0], plen[0]);
    reason[plen[0]] = '\0';
    if ((dst = malloc((size_t)cap + GUARD)) == NULL)
      return fail("out of memory");
    memset(dst, 0xA5, (size_t)cap + GUARD);
    w = hw_bridge_response_encode(cap == 0 ? NULL : dst, cap, status, (unsigned)rec[16] >> 1, (rec[16] & 1) ? NULL : reason,
                                  plen[1] == 0 ? NULL : (const char *)part[1], plen[1], cl,
                                  plen[2] == 0 ? NULL : part[2], plen[2]);
    for (i = (w == 0 ? 0 : w); i < (size_t)cap + GUARD; i++)
      if (dst[i] != 0xA5)
        return fail(w == 0 ? "encode returned 0 but wrote" : "encode wrote past what it returned");
    if (w > cap)
      return fail("encode returned more than cap");
    hw_bridge_put32(lenbuf, (uint32_t)w);
    if (fwrite(lenbuf, 1, 4, out) != 4 || (w > 0 && fwrite(dst, 1, w, out) != w))
      return fail("write error");
    free(dst);
    free(reason);
    free(rec);
  }
  free(in);
  if (fclose(out) != 0)
    return fail("write error");
  return r < 0 ? fail("malformed responses file") : 0;
}

/* Every layout macro, for the Go test to compare with package bridge. */
#define LAYOUT(XX)                           \
  XX(HW_BRIDGE_KIND_REQUEST)                 \
  XX(HW_BRIDGE_KIND_CANCEL)                  \
  XX(HW_BRIDGE_KIND_RESPONSE)                \
  XX(HW_BRIDGE_KIND_BODY)                    \
  XX(HW_BRIDGE_KIND_END)                     \
  XX(HW_BRIDGE_KIND_CONTINUE)                \
  XX(HW_BRIDGE_CANCEL_DRAIN)                 \
  XX(HW_BRIDGE_CANCEL_CLIENT_GONE)           \
  XX(HW_BRIDGE_CANCEL_HOST_ABORT)            \
  XX(HW_BRIDGE_VIEW_VERSION)                 \
  XX(HW_BRIDGE_NO_QUERY)                     \
  XX(HW_BRIDGE_METHOD_OTHER)                 \
  XX(HW_BRIDGE_VIEW_F_KEEP_ALIVE)            \
  XX(HW_BRIDGE_VIEW_F_HEAD)                  \
  XX(HW_BRIDGE_VIEW_F_EXPECT_CONTINUE)       \
  XX(HW_BRIDGE_VIEW_F_CHUNKED)               \
  XX(HW_BRIDGE_VIEW_F_BODY_STREAM)           \
  XX(HW_BRIDGE_U8)                           \
  XX(HW_BRIDGE_U16)                          \
  XX(HW_BRIDGE_U32)                          \
  XX(HW_BRIDGE_U64)                          \
  XX(HW_BRIDGE_IP_SIZE)                      \
  XX(HW_BRIDGE_SPAN_METHOD)                  \
  XX(HW_BRIDGE_SPAN_TARGET)                  \
  XX(HW_BRIDGE_SPAN_PATH)                    \
  XX(HW_BRIDGE_SPAN_QUERY)                   \
  XX(HW_BRIDGE_SPAN_AUTHORITY)               \
  XX(HW_BRIDGE_SPAN_HOST)                    \
  XX(HW_BRIDGE_SPAN_COUNT)                   \
  XX(HW_BRIDGE_SPAN_OFF_OFFSET)              \
  XX(HW_BRIDGE_SPAN_LEN_OFFSET)              \
  XX(HW_BRIDGE_SPAN_SIZE)                    \
  XX(HW_BRIDGE_FIELD_NAME_OFFSET)            \
  XX(HW_BRIDGE_FIELD_VALUE_OFFSET)           \
  XX(HW_BRIDGE_FIELD_ENTRY_SIZE)             \
  XX(HW_BRIDGE_VIEW_VERSION_OFFSET)          \
  XX(HW_BRIDGE_VIEW_FLAGS_OFFSET)            \
  XX(HW_BRIDGE_VIEW_METHOD_ID_OFFSET)        \
  XX(HW_BRIDGE_VIEW_MINOR_OFFSET)            \
  XX(HW_BRIDGE_VIEW_FIELD_COUNT_OFFSET)      \
  XX(HW_BRIDGE_VIEW_REQUEST_ID_OFFSET)       \
  XX(HW_BRIDGE_VIEW_CONN_ID_OFFSET)          \
  XX(HW_BRIDGE_VIEW_CONTENT_LENGTH_OFFSET)   \
  XX(HW_BRIDGE_VIEW_HEAD_OFF_OFFSET)         \
  XX(HW_BRIDGE_VIEW_HEAD_LEN_OFFSET)         \
  XX(HW_BRIDGE_VIEW_BODY_OFF_OFFSET)         \
  XX(HW_BRIDGE_VIEW_BODY_LEN_OFFSET)         \
  XX(HW_BRIDGE_VIEW_METHOD_SPAN_OFFSET)      \
  XX(HW_BRIDGE_VIEW_TARGET_SPAN_OFFSET)      \
  XX(HW_BRIDGE_VIEW_PATH_SPAN_OFFSET)        \
  XX(HW_BRIDGE_VIEW_QUERY_SPAN_OFFSET)       \
  XX(HW_BRIDGE_VIEW_AUTHORITY_SPAN_OFFSET)   \
  XX(HW_BRIDGE_VIEW_HOST_SPAN_OFFSET)        \
  XX(HW_BRIDGE_VIEW_REMOTE_IP_OFFSET)        \
  XX(HW_BRIDGE_VIEW_LOCAL_IP_OFFSET)         \
  XX(HW_BRIDGE_VIEW_REMOTE_PORT_OFFSET)      \
  XX(HW_BRIDGE_VIEW_LOCAL_PORT_OFFSET)       \
  XX(HW_BRIDGE_VIEW_TABLE_OFF_OFFSET)        \
  XX(HW_BRIDGE_VIEW_HEADER_LEN)              \
  XX(HW_BRIDGE_RESPONSE_STATUS_OFFSET)       \
  XX(HW_BRIDGE_RESPONSE_FLAGS_OFFSET)        \
  XX(HW_BRIDGE_RESPONSE_REASON_LEN_OFFSET)   \
  XX(HW_BRIDGE_RESPONSE_FIELDS_LEN_OFFSET)   \
  XX(HW_BRIDGE_RESPONSE_CONTENT_LENGTH_OFFSET) \
  XX(HW_BRIDGE_RESPONSE_HEAD_LEN)            \
  XX(HW_BRIDGE_RESPONSE_MIN_STATUS)          \
  XX(HW_BRIDGE_RESPONSE_MAX_STATUS)          \
  XX(HW_BRIDGE_RESPONSE_MAX_REASON)          \
  XX(HW_BRIDGE_RESPONSE_F_STREAM)

#define PRINT(name) printf("%s %llu\n", #name, (unsigned long long)(name));

/* The method table through both its C forms: the X macro and the enum. */
#define PRINT_METHOD(num, name, string) printf("%d %s %s\n", (int)HW_BRIDGE_METHOD_##name, #name, string);

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "layout") == 0) {
    LAYOUT(PRINT)
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "methods") == 0) {
    HW_BRIDGE_METHOD_MAP(PRINT_METHOD)
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "views") == 0)
    return views(argv[2]);
  if (argc == 3 && strcmp(argv[1], "fields") == 0)
    return fields(argv[2]);
  if (argc == 4 && strcmp(argv[1], "response") == 0)
    return response(argv[2], argv[3]);
  fprintf(stderr, "usage: bridge_check layout | methods | views FILE | fields FILE | response IN OUT\n");
  return 2;
}
