// Package kmsevent decodes the events that tell a monitor an AWS KMS key has
// changed, and says what each change can mean for Amazon FSx's use of the key.
//
// [Decode] accepts the three shapes such events arrive in:
//
//   - an EventBridge event: "AWS API Call via CloudTrail" or "AWS Service
//     Event via CloudTrail" (detail is a CloudTrail record), or one of KMS's
//     own events ("KMS CMK Deletion", "KMS CMK Rotation", "KMS Imported Key
//     Material Expiration", detail has a hyphenated "key-id");
//   - a bare CloudTrail record;
//   - a CloudTrail log file, {"Records": [...]}, as a trail writes to S3;
//
// and the two that a failure queue holds: a Lambda destination record, which
// Lambda writes when an asynchronous invocation failed, with the event in
// "requestPayload" (any of the three shapes; the events it gives carry the
// record's [Invocation] in Destination, and [Unwrap] returns the event
// itself), and an EventBridge dead-letter message, which is the event
// itself (why EventBridge could not deliver it is in the SQS message's
// attributes, not in its body).
//
// Each becomes a normalized [Event]: who did what to which keys (always full
// key ARNs), whether the call failed, and its [Relevance] with a reason.
// The relevance of every event name comes from one table, which also gives
// [RelevantEventNames] for the EventBridge rule.
//
// # Which key
//
// Records name keys in many places and forms. KeyARNs is taken from the first
// of these sources, in order of trust, that yields a key ARN:
//
//  1. the record's resources[].ARN (CloudTrail's own resolution; alias ARNs
//     listed there, even when typed AWS::KMS::Key, go to Aliases);
//  2. responseElements.keyId, then responseElements.keyMetadata.arn (what
//     KMS answered);
//  3. serviceEventDetails.keyId (KMS service events);
//  4. requestParameters.keyId, then requestParameters.targetKeyId (what the
//     caller typed: an ARN, an alias, or a bare id, which is completed with
//     the record's awsRegion and recipientAccountId);
//
// and for native KMS events: the envelope's resources, then detail.key-id.
// A malformed identifier is skipped with a note in Warnings. An event that
// would be relevant but names no key, no alias and no custom key store is
// Ignored, with the reason.
//
// # Errors
//
// Input that is not JSON, not one of the three shapes or more than one of
// them ([ErrAmbiguous]), larger than
// [MaxInputSize], or a record missing eventSource, eventName, eventID or a
// valid eventTime, or with a field of the wrong JSON type, is an error that
// says where and why. In a log file a bad record does not stop the others:
// Decode returns every event it could decode together with an error that
// joins one error per bad record, each naming its index ("Records[3]: ..."):
// the first [MaxErrors] of them, then "and N more bad records". Every string
// from the input that an error or a Reason quotes is clipped to [MaxShown]
// bytes, the clipping said, and escaped (see [Clip]). Nothing is dropped
// silently: a record is either an Event or an error.
package kmsevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxInputSize is the largest input Decode accepts: 10 MiB. EventBridge
// events are at most 256 KiB; CloudTrail log files are delivered every few
// minutes and are far smaller for KMS management events. Split larger files.
const MaxInputSize = 10 << 20

// ErrAmbiguous is returned for an object that has the fields of more than
// one input shape, such as both "Records" and "detail": which one the sender
// meant cannot be known, so none is guessed.
var ErrAmbiguous = errors.New("kmsevent: input matches more than one shape")

// Kind says how an event reached the monitor.
type Kind string

// The kinds of event.
const (
	// APICall is a CloudTrail record of a call to the KMS API
	// (eventType AwsApiCall).
	APICall Kind = "api-call"
	// ServiceEvent is a CloudTrail record of something KMS did on its own,
	// such as deleting a key after its waiting period (eventType
	// AwsServiceEvent).
	ServiceEvent Kind = "service-event"
	// KMSEvent is one of KMS's own EventBridge events, such as
	// "KMS CMK Deletion".
	KMSEvent Kind = "kms-event"
)

// Actor is who made a call.
type Actor struct {
	// ARN is userIdentity.arn: an IAM user, an STS assumed-role session,
	// or empty for AWS services and KMS itself.
	ARN string `json:"arn,omitempty"`
	// Type is userIdentity.type (IAMUser, AssumedRole, AWSService, Root,
	// ...); KMS service events have none.
	Type string `json:"type,omitempty"`
	// InvokedBy is the AWS service that called on the principal's behalf
	// (ec2-frontend-api.amazonaws.com, "AWS Internal").
	InvokedBy string `json:"invokedBy,omitempty"`
	// SourceIP is sourceIPAddress: an IP address, or a service name when
	// a service made the call.
	SourceIP string `json:"sourceIp,omitempty"`
	// UserAgent is the caller's user agent.
	UserAgent string `json:"userAgent,omitempty"`
	// Console is true when the call came from the AWS Management Console
	// (sessionCredentialFromConsole, or userAgent console.amazonaws.com).
	Console bool `json:"console,omitempty"`
	// Account is userIdentity.accountId, the caller's account.
	Account string `json:"account,omitempty"`
	// IssuerARN is the role or user that issued the session
	// (userIdentity.sessionContext.sessionIssuer.arn).
	IssuerARN string `json:"issuerArn,omitempty"`
}

// Event is one normalized KMS event.
type Event struct {
	// Kind is how the event arrived.
	Kind Kind `json:"kind"`
	// EventName is the CloudTrail eventName, or the native detail-type
	// ("KMS CMK Deletion").
	EventName string `json:"eventName"`
	// EventID is CloudTrail's eventID, or the EventBridge id of a native
	// KMS event.
	EventID string `json:"eventId"`
	// EventTime is when the event happened.
	EventTime time.Time `json:"eventTime"`
	// Account is the account the event was recorded in.
	Account string `json:"account"`
	// Region is the Region the event was recorded in.
	Region string `json:"region"`
	// KeyARNs are the full ARNs of the keys affected; never nil.
	KeyARNs []string `json:"keyArns"`
	// Aliases are alias names or alias ARNs the event mentions.
	Aliases []string `json:"aliases,omitempty"`
	// CustomKeyStoreID is the custom key store of (Dis)ConnectCustomKeyStore
	// and UpdateCustomKeyStore, whose keys are all affected.
	CustomKeyStoreID string `json:"customKeyStoreId,omitempty"`
	// GrantID is the grant of RevokeGrant, RetireGrant and CreateGrant.
	GrantID string `json:"grantId,omitempty"`
	// Policy is PutKeyPolicy's new policy text.
	Policy string `json:"policy,omitempty"`
	// BypassPolicyLockoutSafetyCheck is PutKeyPolicy's flag of that name:
	// the new policy may lock everyone out of managing the key.
	BypassPolicyLockoutSafetyCheck bool `json:"bypassPolicyLockoutSafetyCheck,omitempty"`
	// PendingWindowInDays is ScheduleKeyDeletion's waiting period.
	PendingWindowInDays int `json:"pendingWindowInDays,omitempty"`
	// DeletionDate is when ScheduleKeyDeletion will delete the key; zero
	// for a multi-Region primary waiting for its replicas.
	DeletionDate time.Time `json:"deletionDate,omitzero"`
	// KeyState is the key state KMS reported in its response, if any
	// (PendingDeletion, PendingReplicaDeletion).
	KeyState string `json:"keyState,omitempty"`
	// Actor is who made the call; empty for native KMS events.
	Actor Actor `json:"actor"`
	// Failed is true when the call failed; ErrorCode says why.
	Failed bool `json:"failed"`
	// ErrorCode is the error of a failed call (AccessDeniedException).
	ErrorCode string `json:"errorCode,omitempty"`
	// ErrorMessage is the error message of a failed call, if recorded.
	ErrorMessage string `json:"errorMessage,omitempty"`
	// Relevance is what the event can mean for FSx's use of the keys.
	Relevance Relevance `json:"relevance"`
	// Reason explains Relevance in a sentence.
	Reason string `json:"reason"`
	// Unkeyed is the relevance an Ignored event would have had if it named
	// a usable key (a breaking call whose key identifier is malformed or
	// missing); empty otherwise. A monitor warns about these.
	Unkeyed Relevance `json:"unkeyed,omitempty"`
	// Warnings are parts of the record that could not be read and were
	// skipped (a malformed ARN, a date in an unknown layout).
	Warnings []string `json:"warnings,omitempty"`
	// Destination is the failed invocation when the event came inside a
	// Lambda destination record; nil otherwise.
	Destination *Invocation `json:"destination,omitempty"`
}

// top holds the top-level fields that tell the three input shapes apart,
// and the fields of an EventBridge envelope.
type top struct {
	Records    json.RawMessage `json:"Records"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  json.RawMessage `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	EventName  json.RawMessage `json:"eventName"`
	// RequestPayload is set in a Lambda destination record.
	RequestPayload json.RawMessage `json:"requestPayload"`
}

// Decode decodes one EventBridge event, one bare CloudTrail record, a
// CloudTrail log file ({"Records": [...]}) or a Lambda destination record
// holding one of them into events. See the package documentation for the
// shapes, the choice of key ARNs and error handling.
func Decode(raw []byte) ([]Event, error) {
	return decode(raw, false)
}

// decode is Decode; nested is set for the event inside a destination
// record, which cannot be another one.
func decode(raw []byte, nested bool) ([]Event, error) {
	raw, trimmed, err := input(raw)
	if err != nil {
		return nil, err
	}
	if len(trimmed) == 0 {
		return nil, errors.New("kmsevent: input is empty")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, fmt.Errorf("kmsevent: input is not JSON: %w", syntaxError(trimmed))
		}
		return nil, fmt.Errorf("kmsevent: input is a JSON %s, want an object (an EventBridge event, a CloudTrail record or {\"Records\": [...]})", jsonType(trimmed[0]))
	}
	var t top
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("kmsevent: %w", describe(err))
	}
	var shapes []string
	if t.Records != nil {
		shapes = append(shapes, `a CloudTrail log file ("Records")`)
	}
	if t.DetailType != "" || t.Detail != nil {
		shapes = append(shapes, `an EventBridge event ("detail-type", "detail")`)
	}
	if t.EventName != nil {
		shapes = append(shapes, `a CloudTrail record ("eventName")`)
	}
	if t.RequestPayload != nil {
		shapes = append(shapes, `a Lambda destination record ("requestPayload")`)
	}
	if len(shapes) > 1 {
		return nil, fmt.Errorf("%w: it is both %s", ErrAmbiguous, strings.Join(shapes, " and "))
	}
	switch {
	case t.RequestPayload != nil && nested:
		return nil, errors.New("kmsevent: another Lambda destination record, want the event")
	case t.RequestPayload != nil:
		return decodeDestination(raw)
	case t.Records != nil:
		return decodeLog(t.Records)
	case t.DetailType != "" || t.Detail != nil:
		e, err := decodeEnvelope(&t)
		if err != nil {
			return nil, fmt.Errorf("kmsevent: EventBridge event %s: %w", quote(t.ID), err)
		}
		return []Event{e}, nil
	case t.EventName != nil:
		e, err := decodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("kmsevent: CloudTrail record: %w", err)
		}
		return []Event{e}, nil
	}
	return nil, errors.New(`kmsevent: JSON object is neither an EventBridge event (no "detail-type" or "detail"), a CloudTrail record (no "eventName"), a CloudTrail log file (no "Records") nor a Lambda destination record (no "requestPayload")`)
}

// input checks that raw is at most MaxInputSize and strips a UTF-8 byte
// order mark from it; trimmed is the rest without leading white space,
// whose first byte says what the input is.
func input(raw []byte) (body, trimmed []byte, err error) {
	if len(raw) > MaxInputSize {
		return nil, nil, fmt.Errorf("kmsevent: input is %d bytes, more than the %d-byte limit", len(raw), MaxInputSize)
	}
	body = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	return body, bytes.TrimLeft(body, " \t\r\n"), nil
}

// decodeLog decodes the Records array of a CloudTrail log file one record at
// a time, so that memory grows with the events decoded, not with the
// records listed. It keeps the first MaxErrors errors and counts the rest.
func decodeLog(records json.RawMessage) ([]Event, error) {
	if string(records) == "null" {
		return nil, errors.New("kmsevent: Records is null, want an array of CloudTrail records")
	}
	if records[0] != '[' {
		return nil, fmt.Errorf("kmsevent: Records: got a JSON %s, want an array", jsonType(records[0]))
	}
	dec := json.NewDecoder(bytes.NewReader(records))
	if _, err := dec.Token(); err != nil { // [
		return nil, fmt.Errorf("kmsevent: Records: %w", describe(err))
	}
	events := []Event{}
	var errs []error
	more := 0
	for i := 0; dec.More(); i++ {
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return events, errors.Join(append(errs, fmt.Errorf("kmsevent: Records[%d]: %w", i, describe(err)))...)
		}
		e, err := decodeRecord(r)
		switch {
		case err == nil:
			events = append(events, e)
		case len(errs) < MaxErrors:
			errs = append(errs, fmt.Errorf("kmsevent: Records[%d]: %w", i, err))
		default:
			more++
		}
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("kmsevent: and %d more bad records", more))
	}
	return events, errors.Join(errs...)
}

// decodeEnvelope decodes an EventBridge event.
func decodeEnvelope(t *top) (Event, error) {
	switch {
	case t.DetailType == "":
		return Event{}, errors.New(`"detail-type" is missing`)
	case t.Source == "":
		return Event{}, errors.New(`"source" is missing`)
	}
	if isCloudTrail(t.DetailType) {
		if t.Detail == nil || string(t.Detail) == "null" {
			return Event{}, fmt.Errorf("detail-type %s without a detail", quote(t.DetailType))
		}
		e, err := decodeRecord(t.Detail)
		if err != nil {
			return Event{}, fmt.Errorf("detail: %w", err)
		}
		return e, nil
	}
	when, err := parseTime("time", t.Time)
	if err != nil {
		return Event{}, err
	}
	e := Event{
		Kind:      KMSEvent,
		EventName: t.DetailType,
		EventID:   t.ID,
		EventTime: when,
		Account:   t.Account,
		Region:    t.Region,
		KeyARNs:   []string{},
	}
	switch {
	case t.Source != "aws.kms":
		e.Relevance = Ignored
		e.Reason = fmt.Sprintf("source %s is not aws.kms", quote(t.Source))
		return e, nil
	case !isNative(t.DetailType):
		e.Relevance = Ignored
		e.Reason = fmt.Sprintf("KMS detail-type %s is not one the monitor handles", quote(t.DetailType))
		return e, nil
	}
	if t.ID == "" {
		return Event{}, errors.New(`"id" is missing`)
	}
	var resources []string
	if t.Resources != nil {
		if err := json.Unmarshal(t.Resources, &resources); err != nil {
			return Event{}, fmt.Errorf("resources: %w", describe(err))
		}
	}
	var detail struct {
		KeyID string `json:"key-id"`
	}
	if err := json.Unmarshal(t.Detail, &detail); err != nil {
		return Event{}, fmt.Errorf("detail: %w", describe(err))
	}
	var k keys
	for i, arn := range resources {
		k.add(fmt.Sprintf("resources[%d]", i), arn, "", "")
	}
	if len(k.arns) == 0 && detail.KeyID != "" {
		k.add("detail.key-id", detail.KeyID, t.Region, t.Account)
	}
	k.fill(&e)
	classify(&e)
	requireKey(&e)
	return e, nil
}

// isCloudTrail reports whether an EventBridge detail-type carries a
// CloudTrail record ("AWS API Call via CloudTrail", "AWS Service Event via
// CloudTrail", ...).
func isCloudTrail(detailType string) bool {
	const suffix = " via CloudTrail"
	return len(detailType) > len(suffix) && detailType[len(detailType)-len(suffix):] == suffix
}

// requireKey makes an event Ignored when it would matter but names nothing
// a monitor could check.
func requireKey(e *Event) {
	if e.Relevance == Ignored || len(e.KeyARNs) > 0 || len(e.Aliases) > 0 || e.CustomKeyStoreID != "" {
		return
	}
	why := "the event names no key"
	if len(e.Warnings) > 0 {
		why = "no usable key identifier (" + e.Warnings[0] + ")"
	}
	e.Reason = fmt.Sprintf("%s would be %s, but %s", Clip(e.EventName), e.Relevance, why)
	e.Relevance, e.Unkeyed = Ignored, e.Relevance
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%q is missing", field)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s is not an RFC 3339 time", field, quote(s))
	}
	return t, nil
}

// describe rewords encoding/json's errors to name the JSON field, not the Go
// type it was decoded into.
func describe(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return fmt.Errorf("got a JSON %s, want %s", Clip(te.Value), jsonKind(te.Type.Kind().String()))
		}
		return fmt.Errorf("%s is a JSON %s, want %s", Clip(te.Field), Clip(te.Value), jsonKind(te.Type.Kind().String()))
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("not JSON: %v (at byte %d)", se, se.Offset)
	}
	return err
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

func syntaxError(b []byte) error {
	var v any
	err := json.Unmarshal(b, &v)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("%v (at byte %d)", se, se.Offset)
	}
	return err
}

func jsonType(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
