package awsjson_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
)

// TestFaultMatch checks that a fault with a Match fails only the requests
// whose body contains it, wins over an operation-wide fault, and leaves the
// body readable for the handler.
func TestFaultMatch(t *testing.T) {
	var h awsjson.Hooks
	h.Inject("DescribeKey", awsjson.Fault{Type: "AccessDeniedException", Message: "key a", Match: `"key/a"`})
	h.Inject("DescribeKey", awsjson.Fault{Type: "KMSInternalException", Message: "key b", Match: `"key/b"`, Times: 1})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Before(w, r, "DescribeKey") {
			return
		}
		b, _ := io.ReadAll(r.Body)
		awsjson.WriteResult(w, map[string]string{"echo": string(b)})
	}))
	defer srv.Close()
	call := func(body string) string {
		t.Helper()
		resp, err := http.Post(srv.URL, awsjson.ContentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b)
	}
	tests := []struct{ body, want string }{
		{`{"KeyId":"key/a"}`, `400 Bad Request {"__type":"AccessDeniedException","message":"key a"}`},
		{`{"KeyId":"key/b"}`, `400 Bad Request {"__type":"KMSInternalException","message":"key b"}`},
		{`{"KeyId":"key/b"}`, `200 OK {"echo":"{\"KeyId\":\"key/b\"}"}`}, // Times: 1 used up
		{`{"KeyId":"key/c"}`, `200 OK {"echo":"{\"KeyId\":\"key/c\"}"}`},
		{`{"KeyId":"key/a"}`, `400 Bad Request {"__type":"AccessDeniedException","message":"key a"}`},
	}
	for i, tt := range tests {
		if got := call(tt.body); got != tt.want {
			t.Errorf("call %d %s: got %s, want %s", i, tt.body, got, tt.want)
		}
	}
	h.Inject("DescribeKey", awsjson.Fault{Type: "ThrottlingException", Message: "all"})
	if got := call(`{"KeyId":"key/a"}`); !strings.Contains(got, "AccessDeniedException") {
		t.Errorf("matching fault did not win over the operation-wide one: %s", got)
	}
	if got := call(`{"KeyId":"key/c"}`); !strings.Contains(got, "ThrottlingException") {
		t.Errorf("operation-wide fault not applied: %s", got)
	}
	h.ClearFaults()
	if got := call(`{"KeyId":"key/a"}`); !strings.HasPrefix(got, "200") {
		t.Errorf("after ClearFaults: %s", got)
	}
	if n := h.Calls()["DescribeKey"]; n != len(tests)+3 {
		t.Errorf("calls = %d, want %d", n, len(tests)+3)
	}
}
