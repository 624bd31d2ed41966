package scenario

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sample is one sample event file of events/.
type Sample struct {
	File  string // file name in events/, e.g. DisableKey.json
	Event []byte
}

// GrantID is the grant id the grant samples name.
const GrantID = "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60"

// CallFor returns the Call for eventName on keyARN with realistic request and
// response elements, as CloudTrail records them for KMS.
func CallFor(eventName, keyARN string) Call {
	c := Call{Name: eventName, KeyARN: keyARN}
	deletion := EventTime.Add(7 * 24 * time.Hour)
	switch eventName {
	case "PutKeyPolicy":
		c.Params = map[string]any{"policyName": "default", "policy": Policy(true), "bypassPolicyLockoutSafetyCheck": false}
	case "ScheduleKeyDeletion":
		c.Params = map[string]any{"pendingWindowInDays": 7}
		c.Response = map[string]any{"keyId": keyARN, "keyState": "PendingDeletion", "deletionDate": deletion.Format("Jan 2, 2006, 3:04:05 PM"), "pendingWindowInDays": 7}
	case "CancelKeyDeletion":
		c.Response = map[string]any{"keyId": keyARN}
	case "RevokeGrant":
		c.Params = map[string]any{"grantId": GrantID}
	case "RetireGrant":
		c.NullParams = true
		c.Additional = map[string]any{"grantId": GrantID}
		c.Response = map[string]any{"keyId": keyARN}
	case "CreateGrant":
		c.Params = map[string]any{"granteePrincipal": FSxGrantee, "retiringPrincipal": FSxGrantee,
			"operations": []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "DescribeKey"}}
		c.Response = map[string]any{"grantId": GrantID, "keyId": keyARN}
	case "ImportKeyMaterial":
		c.Params = map[string]any{"expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
		c.Response = map[string]any{"keyId": keyARN}
	case "DeleteImportedKeyMaterial":
		c.Response = map[string]any{"keyId": keyARN}
	case "DeleteKey", "DeleteExpiredKeyMaterial", "RotateKey":
		c.Service = true
	case "CreateAlias", "UpdateAlias":
		c.Params = map[string]any{"aliasName": "alias/fsx-prod", "targetKeyId": keyARN}
		c.NoKey = true
	case "DeleteAlias":
		c.Params = map[string]any{"aliasName": "alias/fsx-prod"}
		c.NoKey = true
	case "DisconnectCustomKeyStore", "ConnectCustomKeyStore", "UpdateCustomKeyStore":
		c.Params = map[string]any{"customKeyStoreId": "cks-1234567890abcdef0"}
		c.NoKey = true
	case "UpdatePrimaryRegion":
		c.Params = map[string]any{"primaryRegion": "us-west-2"}
	case "ReplicateKey":
		c.Params = map[string]any{"replicaRegion": "us-west-2"}
	case "TagResource":
		c.Params = map[string]any{"tags": []any{map[string]any{"tagKey": "owner", "tagValue": "storage"}}}
	case "UntagResource":
		c.Params = map[string]any{"tagKeys": []string{"owner"}}
	case "EnableKeyRotation":
		c.Params = map[string]any{"rotationPeriodInDays": 365}
	}
	return c
}

// Samples returns one EventBridge event per event name the monitor acts on
// (names, the decoder's relevant CloudTrail names) and per native KMS event
// (detailTypes), all on the demo's production key, plus a refused
// DisableKey (an attempt) and a DisableKey on a key FSx does not use.
func Samples(names, detailTypes []string) []Sample {
	prod := KeyARN(ProdKeyID)
	var out []Sample
	for _, n := range names {
		out = append(out, Sample{File: n + ".json", Event: APICall(CallFor(n, prod))})
	}
	for _, d := range detailTypes {
		out = append(out, Sample{File: strings.ReplaceAll(d, " ", "-") + ".json", Event: Native(d, prod, 0)})
	}
	denied := CallFor("DisableKey", prod)
	denied.Actor, denied.ErrorCode, denied.Seq = MalloryARN, "AccessDenied", 1
	denied.ErrorMsg = fmt.Sprintf("User: %s is not authorized to perform: kms:DisableKey on resource: %s because no identity-based policy allows the kms:DisableKey action", MalloryARN, prod)
	out = append(out, Sample{File: "DisableKey-AccessDenied.json", Event: APICall(denied)})
	other := CallFor("DisableKey", KeyARN(OtherKeyID))
	out = append(out, Sample{File: "DisableKey-not-FSx-key.json", Event: APICall(other)})
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}
