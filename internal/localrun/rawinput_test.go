package localrun_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// TestRawInput sends input that aws-lambda-go could not decode into a typed
// argument, and a log file of 128,000 bad records, to the real bootstrap
// under RIE: each is an error response from fsxkms (so Lambda retries it and
// it reaches the failure destination), bounded in size, logged, and the
// function keeps running.
func TestRawInput(t *testing.T) {
	var bad strings.Builder
	bad.WriteString(`{"Records":[1`)
	for range 128000 - 1 {
		bad.WriteString(",1")
	}
	bad.WriteString("]}")
	for _, tc := range []struct{ name, payload, want string }{
		{"not JSON", "\x00\x01 this is not json\n" + strings.Repeat("x", 100<<10), "input is not JSON"},
		{"too deep", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "input is not JSON"},
		{"two shapes", `{"Records": [], "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms", "detail": {}}`, "more than one shape"},
		{"128000 bad records", bad.String(), "and 127990 more bad records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer, err := env.Lambda.Invoke(t.Context(), []byte(tc.payload))
			if _, ok := errors.AsType[*devstack.InvokeError](err); !ok {
				t.Fatalf("invoke = %s, %v; want a function error\n%s", answer, err, env.Lambda.Log())
			}
			var e struct{ ErrorMessage, ErrorType string }
			if err := json.Unmarshal(answer, &e); err != nil {
				t.Fatalf("answer %q: %v", answer, err)
			}
			if e.ErrorType != "InvocationFailed" || !strings.Contains(e.ErrorMessage, tc.want) {
				t.Errorf("error %s: %q, want fsxkms's InvocationFailed containing %q", e.ErrorType, e.ErrorMessage, tc.want)
			}
			if len(answer) > 64<<10 {
				t.Errorf("answer is %d bytes, want at most 64 KB", len(answer))
			}
		})
	}
	log := env.Lambda.Log()
	if n := strings.Count(log, `"msg":"event not decoded"`); n < 4 {
		t.Errorf("%d \"event not decoded\" log lines, want 4:\n%s", n, log)
	}
	if strings.Contains(log, strings.Repeat("x", 1024)) {
		t.Error("the log holds the input unclipped")
	}
	// fsxkms's lines carry the invocation's requestId; the Lambda library's
	// report of the error is an ERROR line holding it as a JSON object.
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, `"msg":"event not decoded"`) && !strings.Contains(line, `"requestId":"`) {
			t.Errorf("log line without requestId: %.300s", line)
		}
	}
	if !strings.Contains(log, `"level":"ERROR","msg":"Lambda runtime","payload":{"errorMessage":`) {
		t.Errorf("the Lambda library's error report is not an ERROR line with a JSON payload:\n%s", tail(log, 3000))
	}
}
