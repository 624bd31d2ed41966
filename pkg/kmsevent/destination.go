package kmsevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Invocation is what a Lambda destination record says about the
// asynchronous invocation it records: Lambda writes one to a function's
// failure destination (an SQS queue, for fsxkms) when the invocation failed
// every attempt or grew too old, with the event it was given in
// requestPayload. Every field is as the record has it, unclipped.
type Invocation struct {
	// RequestID is requestContext.requestId, the invocation's request id:
	// the one on the function's log lines of each attempt.
	RequestID string `json:"requestId,omitempty"`
	// FunctionARN is requestContext.functionArn, with its qualifier
	// (":$LATEST", a version or an alias) when the record has one.
	FunctionARN string `json:"functionArn,omitempty"`
	// Condition is why Lambda gave up: RetriesExhausted or
	// EventAgeExceeded.
	Condition string `json:"condition,omitempty"`
	// Attempts is requestContext.approximateInvokeCount.
	Attempts int `json:"attempts,omitempty"`
	// Time is the record's timestamp: when Lambda gave up; zero when the
	// record has none or none that reads as a date (Warnings then says so).
	Time time.Time `json:"time,omitzero"`
	// FunctionError is responseContext.functionError (Unhandled, Handled).
	FunctionError string `json:"functionError,omitempty"`
	// ErrorType and ErrorMessage are the last attempt's error, from
	// responsePayload.
	ErrorType    string `json:"errorType,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// FunctionName is the name of the function the record is about: the part of
// FunctionARN after "function:", without a qualifier; empty without an ARN.
func (inv Invocation) FunctionName() string {
	_, rest, ok := strings.Cut(inv.FunctionARN, ":function:")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ":")
	return name
}

// destinationRecord is a Lambda destination record; requestPayload is the
// event.
type destinationRecord struct {
	Timestamp      json.RawMessage `json:"timestamp"`
	RequestContext *struct {
		RequestID              string  `json:"requestId"`
		FunctionARN            string  `json:"functionArn"`
		Condition              string  `json:"condition"`
		ApproximateInvokeCount flexInt `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext *struct {
		FunctionError string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// Unwrap returns the event inside a Lambda destination record (an object
// with "requestPayload"), as the function was given it, with what the
// record says about the invocation; raw itself and nil when raw is not such
// a record. A requestPayload that is a JSON string is the string's content.
// Unwrap does not decode the event: Decode does, and accepts the same
// records.
func Unwrap(raw []byte) (payload []byte, inv *Invocation, err error) {
	_, trimmed, err := input(raw)
	if err != nil {
		return nil, nil, err
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return raw, nil, nil
	}
	var probe struct {
		RequestPayload json.RawMessage `json:"requestPayload"`
	}
	if json.Unmarshal(trimmed, &probe) != nil || probe.RequestPayload == nil {
		return raw, nil, nil
	}
	payload, inv, _, err = unwrap(trimmed)
	if err != nil {
		return nil, inv, err
	}
	return payload, inv, nil
}

// unwrap reads a Lambda destination record: the event in requestPayload,
// the invocation, and warnings about parts of the record it could not
// read. The error says why there is no event.
func unwrap(raw []byte) ([]byte, *Invocation, []string, error) {
	var r destinationRecord
	var warnings []string
	if err := json.Unmarshal(raw, &r); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); !ok { // a type error still decodes the rest
			return nil, nil, nil, fmt.Errorf("kmsevent: Lambda destination record: %w", describe(err))
		}
		warnings = append(warnings, "Lambda destination record: "+describe(err).Error())
	}
	inv := &Invocation{}
	if c := r.RequestContext; c != nil {
		inv.RequestID, inv.FunctionARN, inv.Condition, inv.Attempts = c.RequestID, c.FunctionARN, c.Condition, int(c.ApproximateInvokeCount)
	}
	if ts := r.Timestamp; len(ts) > 0 && string(ts) != "null" {
		t, err := parseLooseTime(looseTime(ts))
		if err != nil {
			warnings = append(warnings, "Lambda destination record: timestamp: "+err.Error())
		}
		inv.Time = t
	}
	if c := r.ResponseContext; c != nil {
		inv.FunctionError = c.FunctionError
	}
	if p := r.ResponsePayload; len(p) > 0 && p[0] == '{' {
		var e struct {
			ErrorType    any `json:"errorType"`
			ErrorMessage any `json:"errorMessage"`
		}
		if json.Unmarshal(p, &e) == nil {
			inv.ErrorType, _ = e.ErrorType.(string)
			inv.ErrorMessage, _ = e.ErrorMessage.(string)
		}
	}
	where := "kmsevent: Lambda destination record"
	if inv.RequestID != "" {
		where += " " + quote(inv.RequestID)
	}
	p := r.RequestPayload
	switch {
	case string(p) == "null":
		return nil, inv, warnings, fmt.Errorf("%s: requestPayload is null: the record holds no event", where)
	case len(p) > 0 && p[0] == '"':
		var s string
		if err := json.Unmarshal(p, &s); err != nil {
			return nil, inv, warnings, fmt.Errorf("%s: requestPayload: %w", where, describe(err))
		}
		return []byte(s), inv, warnings, nil
	case len(p) > 0 && p[0] == '{':
		return p, inv, warnings, nil
	}
	return nil, inv, warnings, fmt.Errorf("%s: requestPayload is a JSON %s, want the event (an object)", where, jsonType(p[0]))
}

// decodeDestination decodes the event inside a Lambda destination record;
// each event it gives carries the invocation in Destination and the
// record's warnings. The event may be any shape Decode accepts but another
// destination record.
func decodeDestination(raw []byte) ([]Event, error) {
	payload, inv, warnings, err := unwrap(raw)
	if err != nil {
		return nil, err
	}
	where := "Lambda destination record"
	if inv.RequestID != "" {
		where += " " + quote(inv.RequestID)
	}
	events, err := decode(payload, true)
	for i := range events {
		events[i].Destination = inv
		events[i].Warnings = append(events[i].Warnings, warnings...)
	}
	if err != nil {
		err = &payloadError{prefix: "kmsevent: " + where + ": requestPayload: ", err: err}
	}
	return events, err
}

// payloadError is an error about the event inside a destination record: each
// line of the inner error gets prefix in place of its own "kmsevent: ".
type payloadError struct {
	prefix string
	err    error
}

func (e *payloadError) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	for i, l := range lines {
		lines[i] = e.prefix + strings.TrimPrefix(l, "kmsevent: ")
	}
	return strings.Join(lines, "\n")
}

func (e *payloadError) Unwrap() error { return e.err }
