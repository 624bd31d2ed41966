// Package awsjson holds the parts of the AWS JSON 1.1 protocol that the
// devstack servers share: reading the operation from X-Amz-Target, writing
// results and errors in the wire format the AWS SDKs decode, and the test
// hooks (call counters, added latency, injected faults).
package awsjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ContentType is the media type of AWS JSON 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// Operation returns the operation named by the request's X-Amz-Target
// header when it has the given service prefix ("TrentService" for KMS), and
// whether it had that prefix.
func Operation(r *http.Request, service string) (string, bool) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, service+".")
	if !ok || op == "" {
		return "", false
	}
	return op, true
}

// WriteResult writes v as a 200 JSON 1.1 response.
func WriteResult(w http.ResponseWriter, v any) {
	b, err := marshal(v)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalFailure", "encoding response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// WriteError writes an AWS JSON 1.1 error: the HTTP status and a body
// {"__type": typ, "message": msg}, which the SDKs turn into the typed error
// named by typ (for example *types.NotFoundException).
func WriteError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, msg})
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	w.Write(b)
}

// marshal encodes v as JSON without HTML escaping and without a trailing
// newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Decode reads the JSON request body into v. On failure it writes a 400
// error of type errType naming the operation, and returns false.
func Decode(w http.ResponseWriter, r *http.Request, op, errType string, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, errType, fmt.Sprintf("%s: request body is not valid JSON for this operation: %v", op, err))
		return false
	}
	return true
}

// Fault is an error a test makes an operation return instead of its result.
type Fault struct {
	// Status is the HTTP status code; 0 means 400.
	Status int
	// Type is the error code sent as __type, e.g. "ThrottlingException".
	Type string
	// Message is the error message.
	Message string
	// Times is how many calls fail; 0 means every call until cleared.
	Times int
	// Match, when set, limits the fault to requests whose body contains it
	// (a key id, say): faults on one key while the others answer. A fault
	// with a Match wins over one without for the same operation.
	Match string
}

// faultKey identifies an injected fault: an operation and its Match.
type faultKey struct{ op, match string }

// Hooks are the test controls of a server: per-operation call counters,
// added latency and injected faults. The zero value is ready to use and
// safe for concurrent use.
type Hooks struct {
	mu      sync.Mutex
	calls   map[string]int
	latency time.Duration
	faults  map[faultKey]*Fault
}

// Calls returns a copy of the number of calls per operation since the
// start or the last ResetCalls.
func (h *Hooks) Calls() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.calls))
	maps.Copy(out, h.calls)
	return out
}

// ResetCalls sets every call counter back to zero.
func (h *Hooks) ResetCalls() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = nil
}

// SetLatency delays every later call by d before it is answered; 0 removes
// the delay.
func (h *Hooks) SetLatency(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latency = d
}

// Inject makes later calls of op fail with f, f.Times times (0: always).
// It replaces an earlier fault for op with the same Match.
func (h *Hooks) Inject(op string, f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.faults == nil {
		h.faults = map[faultKey]*Fault{}
	}
	if f.Status == 0 {
		f.Status = http.StatusBadRequest
	}
	h.faults[faultKey{op, f.Match}] = &f
}

// ClearFaults removes every injected fault.
func (h *Hooks) ClearFaults() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = nil
}

// matching reports whether a fault with a Match is injected for op.
func (h *Hooks) matching(op string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.faults {
		if k.op == op && k.match != "" {
			return true
		}
	}
	return false
}

// Before counts a call of op, waits the configured latency and, when a
// fault is injected for op, writes it and returns false; the caller then
// stops handling the request.
func (h *Hooks) Before(w http.ResponseWriter, r *http.Request, op string) bool {
	var body []byte
	if h.matching(op) {
		// Read the body to match it, and put it back for the handler.
		body, _ = io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.mu.Lock()
	if h.calls == nil {
		h.calls = map[string]int{}
	}
	h.calls[op]++
	latency := h.latency
	var fault *Fault
	key, ok := faultKey{op, ""}, false
	for k := range h.faults {
		if k.op == op && k.match != "" && bytes.Contains(body, []byte(k.match)) {
			key, ok = k, true
			break
		}
	}
	if !ok {
		_, ok = h.faults[key]
	}
	if ok {
		f := h.faults[key]
		copied := *f
		fault = &copied
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				delete(h.faults, key)
			}
		}
	}
	h.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	if fault != nil {
		WriteError(w, fault.Status, fault.Type, fault.Message)
		return false
	}
	return true
}
