package kmsevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// badLog is a CloudTrail log file of n records that are not objects
// ({"Records":[1,1,...]}): 2 bytes a record, the most errors per byte.
func badLog(n int) []byte {
	var b strings.Builder
	b.Grow(2*n + 16)
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('1')
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// TestHostileBadRecords decodes a 256 KB log file of 128,000 bad records:
// the error lists the first MaxErrors and counts the rest, within 64 KB.
func TestHostileBadRecords(t *testing.T) {
	raw := badLog(128000)
	events, err := Decode(raw)
	if err == nil || len(events) != 0 {
		t.Fatalf("Decode = %d events, %v; want none and an error", len(events), err)
	}
	msg := err.Error()
	if len(msg) > 64<<10 {
		t.Errorf("error is %d bytes, want at most 64 KB", len(msg))
	}
	for i := range MaxErrors {
		if want := fmt.Sprintf("Records[%d]: record is not a JSON object", i); !strings.Contains(msg, want) {
			t.Errorf("error does not name %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, fmt.Sprintf("Records[%d]", MaxErrors)) {
		t.Errorf("error lists more than %d records:\n%s", MaxErrors, msg)
	}
	if want := fmt.Sprintf("and %d more bad records", 128000-MaxErrors); !strings.Contains(msg, want) {
		t.Errorf("error does not say %q:\n%s", want, msg)
	}
}

// TestHostileStrings: huge or control-laden strings from the input are
// clipped and escaped wherever an error or a Reason quotes them.
func TestHostileStrings(t *testing.T) {
	huge := strings.Repeat("A", 10<<20-200)
	record := func(field, value string) string {
		r := map[string]string{"eventSource": "kms.amazonaws.com", "eventName": "DisableKey",
			"eventID": "e1", "eventTime": "2024-05-01T10:00:00Z"}
		r[field] = value
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, raw string
		reason    bool // the text is in the event's Reason, not an error
	}{
		{"huge eventName", record("eventName", huge), true},
		{"huge eventTime", record("eventTime", huge), false},
		{"huge eventSource", record("eventSource", huge), true},
		{"huge errorCode", record("errorCode", huge), true},
		{"huge eventID, bad time", strings.Replace(record("eventID", huge), "2024-05-01T10:00:00Z", "yesterday", 1), false},
		{"huge number", `{"eventSource":"kms.amazonaws.com","eventName":` + strings.Repeat("9", 10<<20-100) + `}`, false},
		{"huge flag", `{"eventSource":"kms.amazonaws.com","eventName":"PutKeyPolicy","eventID":"e","eventTime":"2024-05-01T10:00:00Z","requestParameters":{"bypassPolicyLockoutSafetyCheck":"` + huge + `"}}`, false},
		{"huge detail-type", `{"detail-type":"` + huge + `","source":"aws.kms","time":"2024-05-01T10:00:00Z","detail":{}}`, true},
		{"huge key id", `{"eventSource":"kms.amazonaws.com","eventName":"DisableKey","eventID":"e","eventTime":"2024-05-01T10:00:00Z","requestParameters":{"keyId":"arn:` + huge + `"}}`, true},
		{"control characters", record("eventName", "Disable\nKey\x1b[31m\u202e"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, err := Decode([]byte(tc.raw))
			var text string
			switch {
			case tc.reason && err == nil && len(events) == 1:
				text = events[0].Reason + strings.Join(events[0].Warnings, "")
			case !tc.reason && err != nil:
				text = err.Error()
			default:
				t.Fatalf("Decode = %d events, %v", len(events), err)
			}
			if len(text) > 2048 {
				t.Errorf("text is %d bytes: %.300s", len(text), text)
			}
			if len(tc.raw) > 1<<20 && tc.name != "huge number" && !strings.Contains(text, "bytes)") {
				t.Errorf("clipping not said: %.600s", text)
			}
			if strings.ContainsAny(text, "\n\x1b\u202e") {
				t.Errorf("control character not escaped: %q", text)
			}
		})
	}
}

// TestTwoShapes: an object with the fields of two shapes is rejected.
func TestTwoShapes(t *testing.T) {
	for _, raw := range []string{
		`{"Records": [], "detail-type": "AWS API Call via CloudTrail", "detail": {}}`,
		`{"Records": [], "eventName": "DisableKey"}`,
		`{"detail": {}, "eventName": "DisableKey"}`,
		`{"requestPayload": {}, "detail-type": "AWS API Call via CloudTrail", "detail": {}}`,
		`{"requestPayload": {}, "Records": []}`,
	} {
		events, err := Decode([]byte(raw))
		if !errors.Is(err, ErrAmbiguous) || events != nil {
			t.Errorf("Decode(%s) = %v, %v; want ErrAmbiguous", raw, events, err)
		}
	}
	_, err := Decode([]byte(`{"Records": [], "detail": {}}`))
	if msg := err.Error(); !strings.Contains(msg, "CloudTrail log file") || !strings.Contains(msg, "EventBridge event") {
		t.Errorf("error does not name both shapes: %s", msg)
	}
}

// TestClip is a table of what Clip and quote make of strings.
func TestClip(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	for _, tc := range []struct{ in, clip, quote string }{
		{"", "", `""`},
		{"DisableKey", "DisableKey", `"DisableKey"`},
		{"a\nb\x1bc\u202ed\u2028", `a\nb\x1bc\u202ed\u2028`, `"a\nb\x1bc\u202ed\u2028"`},
		{"bad\xffutf8", "bad\uFFFDutf8", `"bad\xffutf8"`},
		{strings.Repeat("x", MaxShown), strings.Repeat("x", MaxShown), `"` + strings.Repeat("x", MaxShown) + `"`},
		{strings.Repeat("x", MaxShown+5), strings.Repeat("x", MaxShown) + "…(+5 bytes)", `"` + strings.Repeat("x", MaxShown) + `"…(+5 bytes)`},
		{long, strings.Repeat("é", 128) + "…(+144 bytes)", `"` + strings.Repeat("é", 128) + `"…(+144 bytes)`},
	} {
		if got := Clip(tc.in); got != tc.clip {
			t.Errorf("Clip(%.40q) = %q, want %q", tc.in, got, tc.clip)
		}
		if got := quote(tc.in); got != tc.quote {
			t.Errorf("quote(%.40q) = %q, want %q", tc.in, got, tc.quote)
		}
		if got := ClipBytes([]byte(tc.in)); got != tc.clip {
			t.Errorf("ClipBytes(%.40q) = %q, want %q", tc.in, got, tc.clip)
		}
		if !utf8.ValidString(Clip(tc.in)) {
			t.Errorf("Clip(%.40q) is not valid UTF-8", tc.in)
		}
	}
}

// BenchmarkDecodeBadRecords decodes the 128,000-bad-record log file
// (256 KB) and a 10 MiB one of 5.2 million.
func BenchmarkDecodeBadRecords(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"128000-256KB", 128000}, {"10MiB", (MaxInputSize - 16) / 2}} {
		raw := badLog(tc.n)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(raw); err == nil {
					b.Fatal("no error")
				}
			}
		})
	}
}
