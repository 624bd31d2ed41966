package kmsevent

import (
	"fmt"
	"slices"
	"sort"
)

// Relevance says what an event can mean for Amazon FSx's use of a key.
type Relevance string

// The relevance classes. The class of each event name comes from the single
// table [rules]; failed calls are reclassified by [classify].
const (
	// Breaking events can break FSx's use of the key: a new key policy,
	// a disabled key, a deletion, a revoked grant, lost key material, a
	// disconnected custom key store.
	Breaking Relevance = "breaking"
	// Restoring events can repair an earlier breaking change, so a monitor
	// re-checks the key and resolves open alerts.
	Restoring Relevance = "restoring"
	// Notable events change the key or how it is named without affecting
	// FSx's access: aliases, rotation, tags.
	Notable Relevance = "notable"
	// Attempted marks a call that would have been breaking or restoring
	// but was refused for lack of permission: attempted tampering.
	Attempted Relevance = "attempted"
	// Ignored events cannot affect FSx's use of a key; Reason says why.
	Ignored Relevance = "ignored"
)

// rule is the relevance of one event name when the call succeeded.
type rule struct {
	relevance Relevance
	reason    string
}

// rules is the one table of event names the monitor cares about: CloudTrail
// eventNames of kms.amazonaws.com and the detail-types of native KMS events.
// Every name not listed here is Ignored. RelevantEventNames and
// NativeDetailTypes are derived from it, and so is the EventBridge rule.
var rules = map[string]rule{
	// CloudTrail API calls and service events that can break FSx.
	"PutKeyPolicy":              {Breaking, "replaces the key policy; the new policy may no longer allow FSx to use the key"},
	"DisableKey":                {Breaking, "a disabled key cannot be used; FSx loses access to the data it protects"},
	"ScheduleKeyDeletion":       {Breaking, "a key pending deletion cannot be used and is deleted when the waiting period ends"},
	"RevokeGrant":               {Breaking, "revoking a grant can take away the access FSx uses the key through"},
	"RetireGrant":               {Breaking, "retiring a grant can take away the access FSx uses the key through"},
	"DeleteImportedKeyMaterial": {Breaking, "deleting imported key material makes the key PendingImport and unusable"},
	"DeleteExpiredKeyMaterial":  {Breaking, "expired imported key material was deleted; the key is PendingImport and unusable"},
	"DisconnectCustomKeyStore":  {Breaking, "keys in a disconnected custom key store are Unavailable"},
	"UpdatePrimaryRegion":       {Breaking, "changing the primary Region of a multi-Region key makes it Updating and moves its policy authority"},
	"DeleteKey":                 {Breaking, "the key was deleted after its waiting period; data encrypted under it is unrecoverable"},

	// Calls that can undo a breaking change.
	"EnableKey":             {Restoring, "an enabled key can be used again"},
	"CancelKeyDeletion":     {Restoring, "the key is no longer pending deletion (it stays Disabled until EnableKey)"},
	"ImportKeyMaterial":     {Restoring, "imported key material makes a PendingImport key usable again"},
	"ConnectCustomKeyStore": {Restoring, "keys in a connected custom key store become available again"},
	"CreateGrant":           {Restoring, "a new grant never removes access and can give back access a revoked or retired grant took away"},

	// Changes worth recording that do not affect FSx's access.
	"CreateAlias":          {Notable, "aliases name keys; FSx refers to keys by ARN, so access is unchanged"},
	"UpdateAlias":          {Notable, "aliases name keys; FSx refers to keys by ARN, so access is unchanged"},
	"DeleteAlias":          {Notable, "aliases name keys; FSx refers to keys by ARN, so access is unchanged"},
	"EnableKeyRotation":    {Notable, "automatic rotation keeps old key material; access is unchanged"},
	"DisableKeyRotation":   {Notable, "automatic rotation is off; access is unchanged"},
	"RotateKeyOnDemand":    {Notable, "on-demand rotation keeps old key material; access is unchanged"},
	"RotateKey":            {Notable, "KMS rotated the key material; old material stays usable"},
	"ReplicateKey":         {Notable, "a replica of a multi-Region key was created; the primary is unchanged"},
	"TagResource":          {Notable, "tags change access only where policies use aws:ResourceTag conditions"},
	"UntagResource":        {Notable, "tags change access only where policies use aws:ResourceTag conditions"},
	"UpdateCustomKeyStore": {Notable, "custom key store settings changed; the store must be reconnected to take effect"},

	// Native KMS events (EventBridge detail-type).
	"KMS CMK Deletion":                     {Breaking, "KMS deleted the key at the end of its waiting period"},
	"KMS Imported Key Material Expiration": {Breaking, "imported key material expired; the key is PendingImport and unusable"},
	"KMS CMK Rotation":                     {Notable, "KMS rotated the key material; old material stays usable"},
}

// nativeDetailTypes are the detail-types of KMS's own EventBridge events.
var nativeDetailTypes = []string{
	"KMS CMK Deletion",
	"KMS CMK Rotation",
	"KMS Imported Key Material Expiration",
}

// RelevantEventNames returns, sorted, the CloudTrail eventNames of
// kms.amazonaws.com that are not Ignored: the names the EventBridge rule for
// "AWS API Call via CloudTrail" and "AWS Service Event via CloudTrail" must
// match.
func RelevantEventNames() []string {
	var names []string
	for name := range rules {
		if !isNative(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// NativeDetailTypes returns, sorted, the detail-types of the native KMS
// EventBridge events the monitor handles.
func NativeDetailTypes() []string {
	return slices.Sorted(slices.Values(nativeDetailTypes))
}

func isNative(name string) bool {
	return slices.Contains(nativeDetailTypes, name)
}

// authFailures are error codes meaning the caller lacked permission.
// KMS itself returns AccessDeniedException; CloudTrail has been seen to
// write AccessDenied; the other two are the IAM/EC2-style spellings.
var authFailures = map[string]bool{
	"AccessDenied":                 true,
	"AccessDeniedException":        true,
	"UnauthorizedOperation":        true,
	"Client.UnauthorizedOperation": true,
}

// classify sets e.Relevance and e.Reason from the table and the outcome of
// the call. It expects e.EventName, e.Failed and e.ErrorCode to be set.
func classify(e *Event) {
	r, ok := rules[e.EventName]
	if !ok {
		e.Relevance = Ignored
		e.Reason = fmt.Sprintf("%s does not change a key's policy, state, grants or material", Clip(e.EventName))
		return
	}
	if !e.Failed {
		e.Relevance, e.Reason = r.relevance, r.reason
		return
	}
	if authFailures[e.ErrorCode] && (r.relevance == Breaking || r.relevance == Restoring) {
		e.Relevance = Attempted
		e.Reason = fmt.Sprintf("%s was refused (%s): attempted %s change; if it had succeeded: %s",
			e.EventName, Clip(e.ErrorCode), r.relevance, r.reason)
		return
	}
	e.Relevance = Ignored
	e.Reason = fmt.Sprintf("%s failed (%s); nothing changed", e.EventName, Clip(e.ErrorCode))
}
