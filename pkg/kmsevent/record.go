package kmsevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// record is the part of a CloudTrail record the monitor reads. The
// service-specific parts stay raw until the record is known to be from KMS,
// because other services put other shapes under the same names.
type record struct {
	EventSource                  string          `json:"eventSource"`
	EventName                    string          `json:"eventName"`
	EventTime                    string          `json:"eventTime"`
	EventID                      string          `json:"eventID"`
	EventType                    string          `json:"eventType"`
	AWSRegion                    string          `json:"awsRegion"`
	RecipientAccountID           string          `json:"recipientAccountId"`
	UserIdentity                 *userIdentity   `json:"userIdentity"`
	SourceIPAddress              string          `json:"sourceIPAddress"`
	UserAgent                    string          `json:"userAgent"`
	SessionCredentialFromConsole flexBool        `json:"sessionCredentialFromConsole"`
	ErrorCode                    string          `json:"errorCode"`
	ErrorMessage                 string          `json:"errorMessage"`
	Resources                    []resource      `json:"resources"`
	RequestParameters            json.RawMessage `json:"requestParameters"`
	ResponseElements             json.RawMessage `json:"responseElements"`
	AdditionalEventData          json.RawMessage `json:"additionalEventData"`
	ServiceEventDetails          json.RawMessage `json:"serviceEventDetails"`
}

type userIdentity struct {
	Type           string `json:"type"`
	ARN            string `json:"arn"`
	AccountID      string `json:"accountId"`
	InvokedBy      string `json:"invokedBy"`
	SessionContext *struct {
		SessionIssuer *struct {
			ARN string `json:"arn"`
		} `json:"sessionIssuer"`
	} `json:"sessionContext"`
}

// resource is one entry of a record's resources. Old records omit type, and
// alias ARNs are typed AWS::KMS::Key too, so only the ARN is read.
type resource struct {
	ARN string `json:"ARN"`
}

// requestParameters of the KMS calls the monitor reads.
type requestParameters struct {
	KeyID                          string   `json:"keyId"`
	TargetKeyID                    string   `json:"targetKeyId"`
	AliasName                      string   `json:"aliasName"`
	GrantID                        string   `json:"grantId"`
	Policy                         document `json:"policy"`
	BypassPolicyLockoutSafetyCheck flexBool `json:"bypassPolicyLockoutSafetyCheck"`
	PendingWindowInDays            flexInt  `json:"pendingWindowInDays"`
	CustomKeyStoreID               string   `json:"customKeyStoreId"`
}

// responseElements of the KMS calls the monitor reads.
type responseElements struct {
	KeyID        string    `json:"keyId"`
	GrantID      string    `json:"grantId"`
	KeyState     string    `json:"keyState"`
	DeletionDate looseTime `json:"deletionDate"`
	KeyMetadata  *struct {
		ARN string `json:"arn"`
	} `json:"keyMetadata"`
}

type additionalEventData struct {
	GrantID          string `json:"grantId"`
	CustomKeyStoreID string `json:"customKeyStoreId"`
}

type serviceEventDetails struct {
	KeyID string `json:"keyId"`
}

const kmsSource = "kms.amazonaws.com"

// errNotObject is one value, not one allocation per bad record.
var errNotObject = errors.New("record is not a JSON object")

// decodeRecord decodes one CloudTrail record.
func decodeRecord(raw json.RawMessage) (Event, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return Event{}, errNotObject
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return Event{}, describe(err)
	}
	switch {
	case r.EventSource == "":
		return Event{}, errors.New(`"eventSource" is missing`)
	case r.EventName == "":
		return Event{}, errors.New(`"eventName" is missing`)
	case r.EventID == "":
		return Event{}, fmt.Errorf("%s: \"eventID\" is missing", Clip(r.EventName))
	}
	when, err := parseTime("eventTime", r.EventTime)
	if err != nil {
		return Event{}, fmt.Errorf("%s %s: %w", Clip(r.EventName), Clip(r.EventID), err)
	}
	e := Event{
		Kind:         APICall,
		EventName:    r.EventName,
		EventID:      r.EventID,
		EventTime:    when,
		Account:      r.RecipientAccountID,
		Region:       r.AWSRegion,
		KeyARNs:      []string{},
		Failed:       r.ErrorCode != "",
		ErrorCode:    r.ErrorCode,
		ErrorMessage: r.ErrorMessage,
	}
	if r.EventType == "AwsServiceEvent" {
		e.Kind = ServiceEvent
	}
	e.Actor = Actor{
		SourceIP:  r.SourceIPAddress,
		UserAgent: r.UserAgent,
		Console:   bool(r.SessionCredentialFromConsole) || r.UserAgent == "console.amazonaws.com",
	}
	if u := r.UserIdentity; u != nil {
		e.Actor.ARN, e.Actor.Type, e.Actor.InvokedBy, e.Actor.Account = u.ARN, u.Type, u.InvokedBy, u.AccountID
		if u.SessionContext != nil && u.SessionContext.SessionIssuer != nil {
			e.Actor.IssuerARN = u.SessionContext.SessionIssuer.ARN
		}
	}
	if e.Account == "" {
		e.Account = e.Actor.Account
	}
	if r.EventSource != kmsSource {
		e.Relevance = Ignored
		e.Reason = fmt.Sprintf("event source %s is not KMS (%s)", Clip(r.EventSource), kmsSource)
		return e, nil
	}
	if err := readKMSFields(&r, &e); err != nil {
		return Event{}, fmt.Errorf("%s %s: %w", Clip(r.EventName), Clip(r.EventID), err)
	}
	classify(&e)
	requireKey(&e)
	return e, nil
}

// readKMSFields reads the KMS-specific parts of r into e.
func readKMSFields(r *record, e *Event) error {
	var (
		req  requestParameters
		resp responseElements
		add  additionalEventData
		svc  serviceEventDetails
	)
	for _, part := range []struct {
		name string
		raw  json.RawMessage
		into any
	}{
		{"requestParameters", r.RequestParameters, &req},
		{"responseElements", r.ResponseElements, &resp},
		{"additionalEventData", r.AdditionalEventData, &add},
		{"serviceEventDetails", r.ServiceEventDetails, &svc},
	} {
		if part.raw == nil || string(part.raw) == "null" {
			continue
		}
		if part.raw[0] != '{' {
			return fmt.Errorf("%s is not a JSON object", part.name)
		}
		if err := json.Unmarshal(part.raw, part.into); err != nil {
			return fmt.Errorf("%s: %w", part.name, describe(err))
		}
	}

	e.GrantID = firstNonEmpty(req.GrantID, add.GrantID, resp.GrantID)
	e.Policy = string(req.Policy)
	e.BypassPolicyLockoutSafetyCheck = bool(req.BypassPolicyLockoutSafetyCheck)
	e.PendingWindowInDays = int(req.PendingWindowInDays)
	e.CustomKeyStoreID = firstNonEmpty(req.CustomKeyStoreID, add.CustomKeyStoreID)
	e.KeyState = resp.KeyState
	if d, err := parseLooseTime(resp.DeletionDate); err != nil {
		e.Warnings = append(e.Warnings, "responseElements.deletionDate: "+err.Error())
	} else {
		e.DeletionDate = d
	}

	// Keys, in order of trust; see the package documentation.
	var k keys
	for i, res := range r.Resources {
		k.add(fmt.Sprintf("resources[%d].ARN", i), res.ARN, "", "")
	}
	if len(k.arns) == 0 {
		k.add("responseElements.keyId", resp.KeyID, e.Region, e.Account)
	}
	if len(k.arns) == 0 && resp.KeyMetadata != nil {
		k.add("responseElements.keyMetadata.arn", resp.KeyMetadata.ARN, "", "")
	}
	if len(k.arns) == 0 {
		k.add("serviceEventDetails.keyId", svc.KeyID, e.Region, e.Account)
	}
	if len(k.arns) == 0 {
		k.add("requestParameters.keyId", req.KeyID, e.Region, e.Account)
	}
	if len(k.arns) == 0 {
		k.add("requestParameters.targetKeyId", req.TargetKeyID, e.Region, e.Account)
	}
	k.addAliasName(req.AliasName)
	k.fill(e)
	return nil
}

// keys collects key ARNs and aliases from the identifiers of an event,
// and warnings for identifiers that do not parse.
type keys struct {
	arns, aliases, warnings []string
}

// add reads one identifier found at field. A bare key id is completed with
// region and account; pass "" for both where only ARNs are expected.
func (k *keys) add(field, id, region, account string) {
	if id == "" {
		return
	}
	ref, err := parseKeyRef(id, region, account)
	switch {
	case err != nil:
		k.warnings = append(k.warnings, field+": "+err.Error())
	case ref.keyARN != "":
		k.arns = appendNew(k.arns, ref.keyARN)
	default:
		k.aliases = appendNew(k.aliases, ref.alias)
	}
}

// addAliasName records requestParameters.aliasName unless an alias ARN of
// that name is already known.
func (k *keys) addAliasName(name string) {
	if name == "" {
		return
	}
	for _, a := range k.aliases {
		if a == name || strings.HasSuffix(a, ":"+name) {
			return
		}
	}
	k.add("requestParameters.aliasName", name, "", "")
}

func (k *keys) fill(e *Event) {
	e.KeyARNs = append(e.KeyARNs, k.arns...)
	e.Aliases = k.aliases
	e.Warnings = append(e.Warnings, k.warnings...)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
