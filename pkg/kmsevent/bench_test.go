package kmsevent

import (
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkDecodePutKeyPolicyEnvelope decodes the EventBridge event of a
// PutKeyPolicy call, the common and largest case for the Lambda.
func BenchmarkDecodePutKeyPolicyEnvelope(b *testing.B) {
	raw, err := os.ReadFile("testdata/eventbridge/putkeypolicy.json")
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, raw, 1)
}

// BenchmarkDecodeNativeEvent decodes a "KMS CMK Deletion" event.
func BenchmarkDecodeNativeEvent(b *testing.B) {
	raw, err := os.ReadFile("testdata/eventbridge/kms-cmk-deletion.json")
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, raw, 1)
}

// BenchmarkDecodeLogFile decodes a CloudTrail log file of 1,000 records
// (every fixture in testdata/records, repeated).
func BenchmarkDecodeLogFile(b *testing.B) {
	var records []json.RawMessage
	for len(records) < 1000 {
		for _, name := range []string{"putkeypolicy", "creategrant", "decrypt", "disablekey-console", "retiregrant", "schedulekeydeletion"} {
			raw, err := os.ReadFile("testdata/records/" + name + ".json")
			if err != nil {
				b.Fatal(err)
			}
			records = append(records, raw)
		}
	}
	raw, err := json.Marshal(map[string]any{"Records": records[:1000]})
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, raw, 1000)
}

// benchDecode decodes raw, which holds want events, b.N times.
func benchDecode(b *testing.B, raw []byte, want int) {
	b.Helper()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		events, err := Decode(raw)
		if err != nil || len(events) != want {
			b.Fatal(len(events), err)
		}
	}
}
