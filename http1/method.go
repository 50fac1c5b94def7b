package http1

// Method identifies a request method. The values are those of Haywire's
// HW_HTTP_METHOD_MAP, so the C ABI passes them through unchanged.
type Method uint8

// Known methods, numbered as in include/haywire.h.
const (
	MethodDelete      Method = 0
	MethodGet         Method = 1
	MethodHead        Method = 2
	MethodPost        Method = 3
	MethodPut         Method = 4
	MethodConnect     Method = 5
	MethodOptions     Method = 6
	MethodTrace       Method = 7
	MethodCopy        Method = 8
	MethodLock        Method = 9
	MethodMkcol       Method = 10
	MethodMove        Method = 11
	MethodPropfind    Method = 12
	MethodProppatch   Method = 13
	MethodSearch      Method = 14
	MethodUnlock      Method = 15
	MethodReport      Method = 16
	MethodMkactivity  Method = 17
	MethodCheckout    Method = 18
	MethodMerge       Method = 19
	MethodMsearch     Method = 20
	MethodNotify      Method = 21
	MethodSubscribe   Method = 22
	MethodUnsubscribe Method = 23
	MethodPatch       Method = 24
	MethodPurge       Method = 25
	// MethodOther is any other valid token; Request.Method holds its name.
	MethodOther Method = 255
)

var methodIDs = map[string]Method{
	"DELETE": MethodDelete, "GET": MethodGet, "HEAD": MethodHead, "POST": MethodPost,
	"PUT": MethodPut, "CONNECT": MethodConnect, "OPTIONS": MethodOptions,
	"TRACE": MethodTrace, "COPY": MethodCopy, "LOCK": MethodLock, "MKCOL": MethodMkcol,
	"MOVE": MethodMove, "PROPFIND": MethodPropfind, "PROPPATCH": MethodProppatch,
	"SEARCH": MethodSearch, "UNLOCK": MethodUnlock, "REPORT": MethodReport,
	"MKACTIVITY": MethodMkactivity, "CHECKOUT": MethodCheckout, "MERGE": MethodMerge,
	"M-SEARCH": MethodMsearch, "NOTIFY": MethodNotify, "SUBSCRIBE": MethodSubscribe,
	"UNSUBSCRIBE": MethodUnsubscribe, "PATCH": MethodPatch, "PURGE": MethodPurge,
}

// lookupMethod maps a method token to its ID; methods are case-sensitive.
func lookupMethod(b []byte) Method {
	switch string(b) { // the common ones without a map probe
	case "GET":
		return MethodGet
	case "POST":
		return MethodPost
	case "HEAD":
		return MethodHead
	}
	if m, ok := methodIDs[string(b)]; ok {
		return m
	}
	return MethodOther
}
