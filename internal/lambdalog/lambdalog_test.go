package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func lines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		out = append(out, m)
	}
	b.Reset()
	return out
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})

	fn := Func(l, func(ctx context.Context, in string) (string, error) {
		l.Info("inside", "empty", "", "none", []string{}, "kept", "x") // no context passed
		log.Printf(`{"errorMessage":"boom","errorType":"x"}`)
		log.Printf("plain line")
		if in == "fail" {
			return "", errors.Join(errors.New("a"), errors.New("b"))
		}
		return "ok", nil
	})
	if _, err := fn(ctx, "ok"); err != nil {
		t.Fatal(err)
	}
	got := lines(t, &buf)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3: %v", len(got), got)
	}
	if got[0]["requestId"] != "req-1" || got[0]["kept"] != "x" {
		t.Errorf("line %v: want requestId req-1 and kept", got[0])
	}
	if _, ok := got[0]["empty"]; ok {
		t.Errorf("empty string field kept: %v", got[0])
	}
	if _, ok := got[0]["none"]; ok {
		t.Errorf("empty list field kept: %v", got[0])
	}
	if p, ok := got[1]["payload"].(map[string]any); !ok || got[1]["level"] != "ERROR" || p["errorMessage"] != "boom" {
		t.Errorf("library JSON line %v: want an ERROR line with the payload as an object", got[1])
	}
	if got[2]["level"] != "ERROR" || got[2]["message"] != "plain line" {
		t.Errorf("library text line %v", got[2])
	}

	_, err := fn(ctx, "fail")
	var f *InvocationFailed
	if !errors.As(err, &f) || reflect.TypeOf(err).Elem().Name() != "InvocationFailed" || err.Error() != "a\nb" {
		t.Errorf("error %T %q: want *InvocationFailed (Lambda reports the type's name)", err, err)
	}
	buf.Reset()
	l.Info("between invocations")
	if m := lines(t, &buf)[0]; m["requestId"] != nil {
		t.Errorf("a line outside any invocation has requestId: %v", m)
	}
	// A record logged with another invocation's context names that one.
	l.InfoContext(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-2"}), "with context")
	if m := lines(t, &buf)[0]; m["requestId"] != "req-2" {
		t.Errorf("line %v: want requestId req-2", m)
	}
}
