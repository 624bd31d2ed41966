// Package scenario builds the fsxkms demo world on the local AWS stack (keys
// with FSx-style policies, FSx grants, an FSx inventory) and the KMS events
// that break and restore it, in the shapes EventBridge delivers them.
//
// The demo, the end-to-end tests, `make invoke` and the sample events in
// events/ all come from here, so they cannot drift apart.
package scenario

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Actor is who made a call in the sample events.
const (
	AdminARN   = "arn:aws:sts::111122223333:assumed-role/Admin/alice"
	MalloryARN = "arn:aws:iam::111122223333:user/mallory"
)

// EventTime is the time stamped on every sample event, so the files are
// reproducible.
var EventTime = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

// Call describes one KMS API call to render as an EventBridge event.
type Call struct {
	Name   string // CloudTrail eventName, e.g. DisableKey
	KeyARN string
	// Params are requestParameters beyond keyId; nil Params and
	// NullParams renders requestParameters as null (RetireGrant does).
	Params     map[string]any
	NullParams bool
	Response   map[string]any // responseElements; nil renders null
	Additional map[string]any // additionalEventData
	Actor      string         // ARN; AdminARN when empty
	// Identity is the userIdentity as CloudTrail records it, for calls
	// that no ARN describes (ServiceIdentity); nil derives it from Actor.
	Identity  map[string]any
	ErrorCode string // set for a failed call
	ErrorMsg  string
	Seq       int // makes the event and request ids unique within a scenario
	// NoKey leaves keyId out of requestParameters and the key out of
	// resources: alias and custom key store calls do not name a key there.
	NoKey bool
	// Service renders an "AWS Service Event via CloudTrail": a call KMS made
	// itself (DeleteKey, DeleteExpiredKeyMaterial, RotateKey).
	Service bool
}

// APICall renders c as an EventBridge "AWS API Call via CloudTrail" event.
func APICall(c Call) []byte {
	account, region := accountRegion(c.KeyARN)
	actor := c.Actor
	if actor == "" {
		actor = AdminARN
	}
	var params any
	if !c.NullParams {
		p := map[string]any{}
		if !c.NoKey {
			p["keyId"] = c.KeyARN
		}
		maps.Copy(p, c.Params)
		params = p
	}
	detail := map[string]any{
		"eventVersion":       "1.10",
		"userIdentity":       identity(actor, account),
		"eventTime":          EventTime.Format(time.RFC3339),
		"eventSource":        "kms.amazonaws.com",
		"eventName":          c.Name,
		"awsRegion":          region,
		"sourceIPAddress":    "198.51.100.7",
		"userAgent":          "aws-cli/2.15.0 md/Botocore#1.34.0 os/linux",
		"requestParameters":  params,
		"responseElements":   nullable(c.Response),
		"requestID":          id("req", c.Name, c.KeyARN, c.Seq),
		"eventID":            id("evt", c.Name, c.KeyARN, c.Seq),
		"readOnly":           false,
		"resources":          []any{},
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": account,
		"eventCategory":      "Management",
	}
	if !c.NoKey {
		detail["resources"] = []any{map[string]any{"accountId": account, "type": "AWS::KMS::Key", "ARN": c.KeyARN}}
	}
	if c.Identity != nil {
		detail["userIdentity"] = c.Identity
		if by, ok := c.Identity["invokedBy"].(string); ok {
			detail["sourceIPAddress"], detail["userAgent"] = by, by
		}
	}
	if c.Additional != nil {
		detail["additionalEventData"] = c.Additional
	}
	if c.ErrorCode != "" {
		detail["errorCode"] = c.ErrorCode
		detail["errorMessage"] = c.ErrorMsg
	}
	detailType := "AWS API Call via CloudTrail"
	if c.Service {
		detailType = "AWS Service Event via CloudTrail"
		detail["eventType"] = "AwsServiceEvent"
		detail["userIdentity"] = map[string]any{"accountId": account, "invokedBy": "kms.amazonaws.com"}
		detail["sourceIPAddress"], detail["userAgent"] = "kms.amazonaws.com", "kms.amazonaws.com"
		detail["requestParameters"], detail["responseElements"] = nil, nil
		detail["serviceEventDetails"] = map[string]any{"keyId": keyIDOf(c.KeyARN)}
	}
	return envelope(detailType, account, region, nil, id("eb", c.Name, c.KeyARN, c.Seq), detail)
}

// Native renders a native KMS EventBridge event ("KMS CMK Deletion" and
// friends) for keyARN.
func Native(detailType, keyARN string, seq int) []byte {
	account, region := accountRegion(keyARN)
	detail := map[string]any{"key-id": keyIDOf(keyARN)}
	return envelope(detailType, account, region, []string{keyARN}, id("eb", detailType, keyARN, seq), detail)
}

func envelope(detailType, account, region string, resources []string, eventID string, detail any) []byte {
	if resources == nil {
		resources = []string{}
	}
	ev := map[string]any{
		"version":     "0",
		"id":          eventID,
		"detail-type": detailType,
		"source":      "aws.kms",
		"account":     account,
		"time":        EventTime.Format(time.RFC3339),
		"region":      region,
		"resources":   resources,
		"detail":      detail,
	}
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("scenario: marshal event: %v", err)) // only plain maps: cannot happen
	}
	return append(b, '\n')
}

func identity(arn, account string) map[string]any {
	if len(arn) > 12 && arn[:12] == "arn:aws:sts:" {
		return map[string]any{
			"type": "AssumedRole", "principalId": "AROAEXAMPLEID:alice", "arn": arn, "accountId": account,
			"accessKeyId": "ASIAEXAMPLEKEYID",
			"sessionContext": map[string]any{
				"sessionIssuer": map[string]any{"type": "Role", "principalId": "AROAEXAMPLEID",
					"arn": "arn:aws:iam::" + account + ":role/Admin", "accountId": account, "userName": "Admin"},
				"attributes": map[string]any{"creationDate": EventTime.Add(-time.Hour).Format(time.RFC3339), "mfaAuthenticated": "false"},
			},
		}
	}
	return map[string]any{"type": "IAMUser", "principalId": "AIDAEXAMPLEID", "arn": arn, "accountId": account,
		"accessKeyId": "AKIAEXAMPLEKEYID", "userName": "mallory"}
}

// GrantCall is the CloudTrail record of name (RetireGrant or RevokeGrant) of
// grant on key by identity (nil: a person, AdminARN): RetireGrant names the
// grant in additionalEventData, RevokeGrant in requestParameters.
func GrantCall(name, key, grant string, seq int, identity map[string]any) []byte {
	c := CallFor(name, key)
	c.Seq, c.Identity = seq, identity
	if name == "RetireGrant" {
		c.Additional = map[string]any{"grantId": grant}
	} else {
		c.Params = map[string]any{"grantId": grant}
	}
	return APICall(c)
}

// FSxServiceAccount stands for an account FSx owns: "AWS account IDs
// specific to Amazon FSx appear in your AWS CloudTrail logs related to AWS
// KMS actions" (FSx user guides, encryption at rest); AWS does not list them.
const FSxServiceAccount = "999988887777"

// ServiceIdentity is the userIdentity of a call an AWS service made itself,
// such as FSx retiring its grant: typ is AWSService (no account) or
// AWSAccount (the service's own account), invokedBy the service principal,
// e.g. fsx.amazonaws.com.
func ServiceIdentity(typ, invokedBy string) map[string]any {
	id := map[string]any{"type": typ, "invokedBy": invokedBy}
	if typ == "AWSAccount" {
		id["accountId"], id["principalId"] = FSxServiceAccount, "AIDAFSXSERVICEEXAMPLE"
	}
	return id
}

func nullable(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// id derives a stable UUID-shaped id from its parts.
func id(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func accountRegion(keyARN string) (account, region string) {
	a, _ := arn.Parse(keyARN) // arn:aws:kms:<region>:<account>:key/<id>
	return a.AccountID, a.Region
}

func keyIDOf(keyARN string) string {
	for i := len(keyARN) - 1; i >= 0; i-- {
		if keyARN[i] == '/' {
			return keyARN[i+1:]
		}
	}
	return keyARN
}
