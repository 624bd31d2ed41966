package policy

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is FSx's request to KMS as AWS documents it. Each value says
// the AWS sentence it rests on; docs/request-model.md has the same table
// with the pages. A key is in one of three groups:
//
//   - present, with the value fsxkms knows;
//   - absent: AWS documents that the request does not carry it, so a
//     condition on it is decided as on a missing key;
//   - unknown (everything else): a verdict that depends on it stays
//     Indeterminate, and an unknown in a Deny is never read as "no deny".
//
// Where AWS's pages disagree (aws:CalledVia), CheckFSx evaluates each
// possibility and the verdict is definite only when they agree.

// fsxService is FSx's service principal, the value of aws:CalledVia when a
// forward access session sets it.
const fsxService = "fsx.amazonaws.com"

// absentAlways are keys no FSx request carries.
var absentAlways = []string{
	// IAM User Guide, global condition keys: "the aws:SourceAccount condition
	// key is only available when the call to your resource is made directly
	// by an AWS service principal"; aws:SourceArn, aws:SourceOrgID and
	// aws:SourceOrgPaths likewise. A forward access session calls with the
	// caller's identity, not FSx's service principal.
	"aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID", "aws:SourceOrgPaths",
	// aws:PrincipalServiceName: "This key is present in the request when the
	// call is made by an AWS service principal." FSx calls with the
	// caller's identity.
	"aws:PrincipalServiceName", "aws:PrincipalServiceNamesList",
	// aws:RequestTag / aws:TagKeys: "This key is included in the request
	// context when tags are passed in the request." None of FSx's KMS
	// operations takes tags.
	"aws:RequestTag/*", "aws:TagKeys",
	// KMS developer guide, "AWS KMS condition keys": each of these is valid
	// only for the operations it lists, none of which FSx calls.
	"kms:BypassPolicyLockoutSafetyCheck", // CreateKey, PutKeyPolicy
	"kms:DataKeyPairSpec",                // GenerateDataKeyPair*
	"kms:ExpirationModel", "kms:ValidTo", // ImportKeyMaterial
	"kms:KeyAgreementAlgorithm",               // DeriveSharedSecret
	"kms:MacAlgorithm",                        // GenerateMac, VerifyMac
	"kms:MessageType", "kms:SigningAlgorithm", // Sign, Verify
	"kms:PrimaryRegion",                            // UpdatePrimaryRegion
	"kms:ReplicaRegion",                            // ReplicateKey
	"kms:RotationPeriodInDays",                     // EnableKeyRotation
	"kms:ScheduleKeyDeletionPendingWindowInDays",   // ScheduleKeyDeletion
	"kms:WrappingAlgorithm", "kms:WrappingKeySpec", // GetParametersForImport
}

// absentUnlessCreateGrant are the grant keys: "kms:GrantOperations ...
// CreateGrant" (and GranteePrincipal, RetiringPrincipal,
// GrantConstraintType, all CreateGrant only); kms:GrantIsForAWSResource:
// "CreateGrant, ListGrants, or RevokeGrant". On CreateGrant they describe
// FSx's grant, which AWS does not document: unknown there.
var absentUnlessCreateGrant = []string{
	"kms:GrantOperations", "kms:GranteePrincipal", "kms:RetiringPrincipal", "kms:GrantConstraintType",
	"kms:GrantIsForAWSResource",
}

// calledViaKeys are the keys a forward access session may set to
// fsx.amazonaws.com. IAM User Guide, forward access sessions: "When a FAS
// request is made, aws:CalledVia, aws:CalledViaFirst, and aws:CalledViaLast
// condition keys are populated with the service principal of the service
// that initiated the FAS call." The same guide's aws:CalledVia entry lists
// the services that set it, and FSx is not among them: evaluate both.
var calledViaKeys = []string{"aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast"}

// cryptoActions are FSx's operations that take an encryption algorithm.
// KMS condition keys, kms:EncryptionAlgorithm: "You can use the
// kms:EncryptionAlgorithm condition key to control access to cryptographic
// operations based on the encryption algorithm that is used in the
// operation" (Decrypt, Encrypt, GenerateDataKey*, ReEncrypt); for a
// symmetric encryption key the algorithm is SYMMETRIC_DEFAULT, "the only
// algorithm" such keys use.
var cryptoActions = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"}

// unknownAll marks every key not otherwise known as unknown.
var unknownAll = []string{"*"}

// fsxModel builds FSx's requests for one key. It shares one context map
// per request property among every principal and action.
type fsxModel struct {
	params   FSxParams
	variants []fsxVariant
	// byPrincipal and byAction cache the principal and action layers.
	byPrincipal map[string]map[string][]string
	byAction    map[string]fsxAction
}

// fsxVariant is one possibility for what AWS leaves undocumented.
type fsxVariant struct {
	name   string              // how a reason names it
	layer  map[string][]string // values of this possibility, lower-case keys
	absent []string            // keys this possibility leaves out
}

type fsxAction struct {
	layer  map[string][]string
	absent []string // absent for this action, besides absentAlways
}

// newFSxModel prepares the request context shared by every FSx request on
// the key. The aws:CalledVia variants are evaluated only when the policy
// mentions those keys; otherwise they cannot change a verdict.
func newFSxModel(p *Policy, params FSxParams) *fsxModel {
	m := &fsxModel{
		params:      params,
		byPrincipal: map[string]map[string][]string{},
		byAction:    map[string]fsxAction{},
	}
	base := m.baseLayer()
	if !p.mentions("aws:calledvia") {
		m.variants = []fsxVariant{{layer: base}}
		return m
	}
	with := map[string][]string{}
	maps.Copy(with, base)
	for _, k := range calledViaKeys {
		with[strings.ToLower(k)] = []string{fsxService}
	}
	m.variants = []fsxVariant{
		{name: "if FSx's calls carry aws:CalledVia=" + fsxService, layer: with},
		{name: "if they carry no aws:CalledVia", layer: base, absent: calledViaKeys},
	}
	return m
}

// baseLayer is the context common to every principal and action.
func (m *fsxModel) baseLayer() map[string][]string {
	params := m.params
	now := params.Now
	if now.IsZero() {
		now = time.Now()
	}
	resAcct, region, keyID := params.Account, params.Region, ""
	if a, ok := parseARN(params.KeyARN); ok {
		resAcct, region = a.account, a.region
		keyID = strings.TrimPrefix(a.resource, "key/")
	}
	ctx := map[string][]string{
		// KMS condition keys, kms:ViaService: the value for Amazon FSx is
		// fsx.AWS_region.amazonaws.com; FSx calls KMS in the Region of the
		// resource.
		"kms:viaservice": {"fsx." + params.Region + ".amazonaws.com"},
		// IAM global condition keys, aws:ResourceAccount: "the resource
		// owner's AWS account ID".
		"aws:resourceaccount": {resAcct},
		// aws:ViaAWSService: "Whenever a FAS request is made,
		// aws:ViaAWSService is set to true" (IAM User Guide, forward access
		// sessions).
		"aws:viaawsservice": {"true"},
		// aws:PrincipalIsAWSService: "false" unless the caller is a service
		// principal; with FAS the principal is the caller's IAM identity.
		"aws:principalisawsservice": {"false"},
		// aws:SecureTransport: "This key is always included in the request
		// context"; KMS accepts only TLS ("Clients must support Transport
		// Layer Security (TLS)", KMS developer guide, infrastructure
		// security).
		"aws:securetransport": {"true"},
		// aws:RequestedRegion: "This key is always included in the request
		// context"; the Region FSx calls is the key's (FSx uses keys in the
		// resource's Region).
		"aws:requestedregion": {region},
		// aws:CurrentTime / aws:EpochTime: "This key is always included in
		// the request context." The check's clock stands for the time of
		// FSx's next call.
		"aws:currenttime": {now.UTC().Format(time.RFC3339)},
		"aws:epochtime":   {strconv.FormatInt(now.Unix(), 10)},
	}
	// kms:KeySpec / kms:KeyUsage (and the deprecated kms:CustomerMasterKeySpec
	// and kms:CustomerMasterKeyUsage): properties of the key used in the
	// operation. FSx "supports only symmetric encryption KMS keys"
	// (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).
	spec := params.Key.Spec
	if spec == "" {
		spec = "SYMMETRIC_DEFAULT"
	}
	ctx["kms:keyspec"] = []string{spec}
	ctx["kms:customermasterkeyspec"] = []string{spec}
	if spec == "SYMMETRIC_DEFAULT" {
		ctx["kms:keyusage"] = []string{"ENCRYPT_DECRYPT"}
		ctx["kms:customermasterkeyusage"] = []string{"ENCRYPT_DECRYPT"}
	}
	// kms:MultiRegion: whether the key is multi-Region; "Multi-Region keys
	// have a distinctive key ID that begins with mrk-" (KMS developer guide,
	// multi-Region keys).
	switch {
	case params.Key.MultiRegion != nil:
		ctx["kms:multiregion"] = []string{strconv.FormatBool(*params.Key.MultiRegion)}
	case keyID != "":
		ctx["kms:multiregion"] = []string{strconv.FormatBool(strings.HasPrefix(keyID, "mrk-"))}
	}
	if t := params.Key.MultiRegionKeyType; t != "" {
		ctx["kms:multiregionkeytype"] = []string{t}
	}
	// kms:KeyOrigin: "the value of the Origin property of the KMS key that
	// is created by or used in the operation".
	if o := params.Key.Origin; o != "" {
		ctx["kms:keyorigin"] = []string{o}
	}
	if params.PrincipalOrgID != "" {
		ctx["aws:principalorgid"] = []string{params.PrincipalOrgID}
	}
	return ctx
}

// principalLayer is the context that depends on the caller.
func (m *fsxModel) principalLayer(principal string) map[string][]string {
	if l, ok := m.byPrincipal[principal]; ok {
		return l
	}
	acct := m.params.Account
	if e := parsePrincipalEntry(principal); e.account != "" {
		acct = e.account
	}
	l := map[string][]string{
		// kms:CallerAccount: "the AWS account identifier of the caller";
		// aws:PrincipalAccount: "the account to which the requesting
		// principal belongs". With FAS both are the caller's.
		"kms:calleraccount":    {acct},
		"aws:principalaccount": {acct},
	}
	// aws:PrincipalArn: "the ARN of the principal that made the request";
	// for a role session it is the role's ARN with its path.
	if arn := principalARN(principal); arn != "" {
		l["aws:principalarn"] = []string{arn}
	}
	m.byPrincipal[principal] = l
	return l
}

// action is the context that depends on the operation.
func (m *fsxModel) action(action string) fsxAction {
	if a, ok := m.byAction[action]; ok {
		return a
	}
	layer := map[string][]string{}
	var absent []string
	if slices.ContainsFunc(cryptoActions, func(a string) bool { return strings.EqualFold(a, action) }) {
		layer["kms:encryptionalgorithm"] = []string{"SYMMETRIC_DEFAULT"}
	} else {
		absent = append(absent, "kms:EncryptionAlgorithm")
	}
	if strings.EqualFold(action, "kms:CreateGrant") {
		// kms:GrantIsForAWSResource: "Allows or denies permission for the
		// CreateGrant, ListGrants, or RevokeGrant operations only when an
		// AWS service integrated with AWS KMS calls the operation on the
		// user's behalf."
		layer["kms:grantisforawsresource"] = []string{"true"}
	} else {
		absent = append(absent, absentUnlessCreateGrant...)
	}
	if strings.EqualFold(action, "kms:DescribeKey") {
		// kms:EncryptionContext:* and kms:EncryptionContextKeys apply to
		// cryptographic operations and CreateGrant; DescribeKey takes no
		// encryption context.
		absent = append(absent, "kms:EncryptionContext:*", "kms:EncryptionContextKeys")
	}
	if !strings.HasPrefix(strings.ToLower(action), "kms:reencrypt") {
		absent = append(absent, "kms:ReEncryptOnSameKey") // ReEncrypt only
	}
	a := fsxAction{layer: layer, absent: absent}
	m.byAction[action] = a
	return a
}

// request is FSx's request for action on behalf of principal, in variant v.
func (m *fsxModel) request(principal, action string, v int) Request {
	a := m.action(action)
	return Request{
		Principal: principal,
		Action:    action,
		Resource:  m.params.KeyARN,
		Unknown:   unknownAll,
		absent:    [][]string{absentAlways, a.absent, m.variants[v].absent},
		layers:    []map[string][]string{m.principalLayer(principal), a.layer, m.variants[v].layer},
	}
}

// evaluate decides FSx's request in every variant: the verdict is definite
// when they agree.
func (m *fsxModel) evaluate(p *Policy, principal, action string, only []int) Result {
	first := p.evaluate(m.request(principal, action, 0), only)
	if len(m.variants) == 1 {
		return first
	}
	second := p.evaluate(m.request(principal, action, 1), only)
	usable := func(d Decision) bool { return d == Allow || d == DelegatedToIAM }
	denied := func(d Decision) bool { return d == DenyExplicit || d == DenyImplicit }
	switch {
	case first.Decision == second.Decision:
		return first
	case usable(first.Decision) && usable(second.Decision):
		if first.Decision == DelegatedToIAM {
			return first
		}
		return second
	case denied(first.Decision) && denied(second.Decision):
		if first.Decision == DenyExplicit {
			return first
		}
		return second
	}
	stmts := append([]string{}, first.Statements...)
	for _, s := range second.Statements {
		if !slices.Contains(stmts, s) {
			stmts = append(stmts, s)
		}
	}
	return Result{Decision: Indeterminate, Statements: stmts,
		Reason: "AWS's pages disagree whether FSx's calls carry aws:CalledVia, and the answer depends on it: " +
			m.variants[0].name + ", " + string(first.Decision) + " (" + first.Reason + "); " +
			m.variants[1].name + ", " + string(second.Decision) + " (" + second.Reason + ")"}
}

// principalARN is the aws:PrincipalArn of a principal, or "" when it is
// unknown: for an account (any principal of it) and for a role session,
// whose aws:PrincipalArn is its role's ARN with the role's path, which the
// session ARN does not carry.
func principalARN(p string) string {
	e := parsePrincipalEntry(p)
	switch e.kind {
	case pkRole, pkUser:
		return p
	}
	return ""
}

// mentions reports whether some condition of the policy uses a key, or a
// policy variable, whose lower-case name starts with prefix.
func (p *Policy) mentions(prefix string) bool {
	for i := range p.statements {
		s := &p.statements[i]
		for j := range s.conditions {
			c := &s.conditions[j]
			if strings.HasPrefix(c.lkey, prefix) {
				return true
			}
			for _, v := range c.values {
				if strings.Contains(strings.ToLower(v), prefix) {
					return true
				}
			}
		}
		for _, r := range s.resources {
			if strings.Contains(strings.ToLower(r), prefix) {
				return true
			}
		}
	}
	return false
}
