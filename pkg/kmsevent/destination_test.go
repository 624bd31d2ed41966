package kmsevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDestinationRecord: a Lambda destination record, as Lambda writes it to
// the failure queue when an asynchronous invocation failed every attempt,
// decodes to the events of its requestPayload, each carrying what the record
// says about the invocation. AWS: "The invocation record contains details
// about the request and response in JSON format" (Lambda Developer Guide,
// Capturing records of Lambda asynchronous invocations).
func TestDestinationRecord(t *testing.T) {
	// throttled is the error of the fixtures' failed invocations; exhausted
	// is what their records say of an invocation that failed every attempt.
	const throttled = "check arn:aws:kms:eu-west-1:444455556666:key/6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b: kms:GetKeyPolicy: operation error KMS: GetKeyPolicy, exceeded maximum number of attempts, 5, ThrottlingException: Rate exceeded"
	exhausted := func(requestID string) Invocation {
		return Invocation{
			RequestID:     requestID,
			FunctionARN:   "arn:aws:lambda:eu-west-1:444455556666:function:fsxkms-prod-kms-events:$LATEST",
			Condition:     "RetriesExhausted",
			Attempts:      3,
			Time:          time.Date(2026, 3, 2, 10, 21, 47, 118e6, time.UTC),
			FunctionError: "Unhandled",
			ErrorType:     "InvocationFailed",
			ErrorMessage:  throttled,
		}
	}
	tests := []struct {
		file    string
		inner   func(t *testing.T, record map[string]json.RawMessage) []byte // the event the function was given
		want    Invocation
		warning string
	}{
		{
			file:  "failures/lambda-destination-disablekey.json",
			inner: func(t *testing.T, r map[string]json.RawMessage) []byte { return r["requestPayload"] },
			want:  exhausted("5e3c1a0b-7d2f-4b6e-9a8c-1f2e3d4c5b6a"),
		},
		{
			// EventAgeExceeded: never run to the end, no error to report.
			file:  "failures/lambda-destination-event-age.json",
			inner: func(t *testing.T, r map[string]json.RawMessage) []byte { return r["requestPayload"] },
			want: Invocation{
				RequestID:   "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
				FunctionARN: "arn:aws:lambda:eu-west-1:444455556666:function:fsxkms-prod-kms-events:$LATEST",
				Condition:   "EventAgeExceeded",
				Time:        time.Date(2026, 3, 2, 10, 21, 47, 118e6, time.UTC),
			},
		},
		{
			file: "failures/lambda-destination-payload-string.json",
			inner: func(t *testing.T, r map[string]json.RawMessage) []byte {
				var s string
				if err := json.Unmarshal(r["requestPayload"], &s); err != nil {
					t.Fatal(err)
				}
				return []byte(s)
			},
			want: exhausted("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"),
		},
		{
			// A requestContext of the wrong type is a warning, not a lost event.
			file:    "failures/lambda-destination-bad-context.json",
			inner:   func(t *testing.T, r map[string]json.RawMessage) []byte { return r["requestPayload"] },
			want:    Invocation{FunctionError: "Unhandled", ErrorType: "InvocationFailed", ErrorMessage: throttled},
			warning: "Lambda destination record: requestContext is a JSON string, want an object",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFixture(t, tt.file)
			var record map[string]json.RawMessage
			if err := json.Unmarshal(raw, &record); err != nil {
				t.Fatal(err)
			}
			inner := tt.inner(t, record)

			got, err := Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want, err := Decode(inner)
			if err != nil {
				t.Fatalf("Decode(requestPayload): %v", err)
			}
			if len(got) != 1 || len(want) != 1 {
				t.Fatalf("%d events from the record, %d from its payload; want 1 each", len(got), len(want))
			}
			if got[0].Destination == nil || !reflect.DeepEqual(*got[0].Destination, tt.want) {
				t.Errorf("Destination = %+v, want %+v", got[0].Destination, tt.want)
			}
			if tt.warning != "" && !containsPrefix(got[0].Warnings, tt.warning) {
				t.Errorf("warnings %q, want one beginning %q", got[0].Warnings, tt.warning)
			}
			// Apart from Destination and the record's warnings, the event is the payload's.
			e := got[0]
			e.Destination, e.Warnings = nil, want[0].Warnings
			if !reflect.DeepEqual(e, want[0]) {
				t.Errorf("event from the record\n%+v\nwant the payload's\n%+v", e, want[0])
			}

			payload, inv, err := Unwrap(raw)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if !bytes.Equal(payload, inner) {
				t.Errorf("Unwrap payload\n%s\nwant requestPayload\n%s", payload, inner)
			}
			if inv == nil || !reflect.DeepEqual(*inv, tt.want) {
				t.Errorf("Unwrap invocation %+v, want %+v", inv, tt.want)
			}
		})
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestDestinationOtherFunction: the sweep function's failure record (a
// Scheduled Event) decodes, ignored, and names its function.
func TestDestinationOtherFunction(t *testing.T) {
	events, err := Decode(readFixture(t, "failures/lambda-destination-sweep.json"))
	if err != nil || len(events) != 1 {
		t.Fatalf("Decode = %v, %v; want one event", events, err)
	}
	e := events[0]
	if e.Relevance != Ignored || e.EventName != "Scheduled Event" || !strings.Contains(e.Reason, `source "aws.events" is not aws.kms`) {
		t.Errorf("event %s %s: %s", e.EventName, e.Relevance, e.Reason)
	}
	if name := e.Destination.FunctionName(); name != "fsxkms-prod-sweep" {
		t.Errorf("FunctionName() = %q, want fsxkms-prod-sweep", name)
	}
}

// TestDestinationBadPayload: a log file with a bad record inside a
// destination record gives its good events and an error that names the
// record and the bad record, once, on one line each.
func TestDestinationBadPayload(t *testing.T) {
	events, err := Decode(readFixture(t, "failures/lambda-destination-log-bad-record.json"))
	if len(events) != 1 || events[0].EventName != "DisableKey" || events[0].Destination == nil {
		t.Errorf("events %+v, want the one good DisableKey with its Destination", events)
	}
	want := `kmsevent: Lambda destination record "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f": requestPayload: Records[1]: EnableKey: "eventID" is missing`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	// The shapes of the payload are told apart as at the top: ErrAmbiguous
	// comes through the record.
	raw := []byte(`{"requestContext": {"requestId": "r1"}, "requestPayload": {"Records": [], "detail": {}}}`)
	if _, err := Decode(raw); !errors.Is(err, ErrAmbiguous) || !strings.HasPrefix(err.Error(), `kmsevent: Lambda destination record "r1": requestPayload: input matches more than one shape`) {
		t.Errorf("Decode(two shapes in requestPayload) error %v, want ErrAmbiguous named under the record", err)
	}
}

// TestDeadLetterMessage: EventBridge sends a rule's undeliverable event to
// its dead-letter queue as the event itself (the SQS message attributes
// RULE_ARN, TARGET_ARN, ERROR_CODE and ERROR_MESSAGE say why): it decodes as
// the event, with no Destination, and Unwrap leaves it as it is.
func TestDeadLetterMessage(t *testing.T) {
	for _, tt := range []struct {
		file, name string
		relevance  Relevance
		kind       Kind
	}{
		{"failures/eventbridge-dead-letter-kms-cmk-deletion.json", "KMS CMK Deletion", Breaking, KMSEvent},
		{"failures/eventbridge-dead-letter-disablekey.json", "DisableKey", Breaking, APICall},
	} {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFixture(t, tt.file)
			events, err := Decode(raw)
			if err != nil || len(events) != 1 {
				t.Fatalf("Decode = %v, %v; want one event", events, err)
			}
			e := events[0]
			if e.EventName != tt.name || e.Relevance != tt.relevance || e.Kind != tt.kind || e.Destination != nil {
				t.Errorf("event %s %s %s, destination %+v", e.EventName, e.Kind, e.Relevance, e.Destination)
			}
			if len(e.KeyARNs) != 1 || e.KeyARNs[0] != key1 {
				t.Errorf("keys %q, want %s", e.KeyARNs, key1)
			}
			payload, inv, err := Unwrap(raw)
			if err != nil || inv != nil || !bytes.Equal(payload, raw) {
				t.Errorf("Unwrap = %d bytes, %+v, %v; want the message itself", len(payload), inv, err)
			}
		})
	}
}

// TestUnwrapOther: what is not a destination record comes back unchanged,
// even when it is not JSON (the caller decides what to do with it).
func TestUnwrapOther(t *testing.T) {
	for _, raw := range []string{"", "not json", "[1]", `{"Records": []}`, `{"requestPayload"`} {
		payload, inv, err := Unwrap([]byte(raw))
		if err != nil || inv != nil || string(payload) != raw {
			t.Errorf("Unwrap(%q) = %q, %+v, %v; want it back unchanged", raw, payload, inv, err)
		}
	}
	if _, _, err := Unwrap(readFixture(t, "bad/destination-payload-null.json")); err == nil || !strings.Contains(err.Error(), "requestPayload is null") {
		t.Errorf("Unwrap(null payload) error %v, want requestPayload is null", err)
	}
}
