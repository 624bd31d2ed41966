// Package kmsproxy is a reverse proxy in front of local-kms that adds the
// KMS operations local-kms lacks: grants (CreateGrant, ListGrants,
// ListRetirableGrants, RevokeGrant, RetireGrant), ListKeyPolicies and, for
// the custom key stores it simulates, ConnectCustomKeyStore,
// DisconnectCustomKeyStore and DescribeCustomKeyStores.
//
// It speaks the KMS JSON 1.1 wire format (X-Amz-Target
// "TrentService.<Operation>", Content-Type application/x-amz-json-1.1,
// errors as {"__type": ..., "message": ...}), so an AWS SDK pointed at it
// through AWS_ENDPOINT_URL_KMS sees one KMS. Keys are resolved by calling
// DescribeKey on local-kms, so unknown, disabled and pending-deletion keys
// fail as they do in KMS. Every other operation is forwarded unchanged.
//
// Proxy.Simulate lays over a key the states local-kms cannot reach on it:
// deleted (NotFoundException everywhere, as after the waiting period),
// PendingImport (imported material deleted or expired), in a custom key
// store (Unavailable while the store is disconnected), or any other state
// (Updating). DescribeKey, ListKeys and ListAliases answers are rewritten
// to match, and the operations KMS refuses in that state are refused.
//
// Grant and simulated state live in memory. Callers are not authenticated:
// any caller may retire or revoke any grant.
package kmsproxy

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
)

// Fault is an error injected into an operation; see Proxy.Inject.
type Fault = awsjson.Fault

// Grant is one KMS grant as ListGrants returns it.
type Grant struct {
	KeyId             string            `json:"KeyId"`
	GrantId           string            `json:"GrantId"`
	Name              string            `json:"Name,omitempty"`
	CreationDate      float64           `json:"CreationDate"`
	GranteePrincipal  string            `json:"GranteePrincipal"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string            `json:"IssuingAccount"`
	Operations        []string          `json:"Operations"`
	Constraints       *GrantConstraints `json:"Constraints,omitempty"`

	token string
}

// GrantConstraints are the encryption context constraints of a grant.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

// validOperations are the grant operations KMS accepts.
var validOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant",
	"RetireGrant", "DescribeKey", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
}

// Proxy is the KMS reverse proxy. It is an http.Handler; create it with New.
type Proxy struct {
	awsjson.Hooks

	upstream *url.URL
	forward  *httputil.ReverseProxy
	client   *http.Client
	now      func() time.Time

	mu     sync.Mutex
	grants map[string][]*Grant    // key ARN -> grants in creation order
	sims   map[string]*Simulation // key ARN -> what the proxy pretends about it
	stores map[string]*keyStore   // custom key stores of Simulations, by id
}

// New returns a proxy that forwards to the local-kms at upstream, for
// example "http://127.0.0.1:4599".
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("kmsproxy: upstream %q is not an absolute URL", upstream)
	}
	return &Proxy{
		upstream: u,
		forward:  httputil.NewSingleHostReverseProxy(u),
		client:   &http.Client{Timeout: 30 * time.Second},
		now:      time.Now,
		grants:   map[string][]*Grant{},
		sims:     map[string]*Simulation{},
		stores:   map[string]*keyStore{},
	}, nil
}

// ServeHTTP answers the grant operations and ListKeyPolicies and forwards
// every other request to local-kms.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := awsjson.Operation(r, "TrentService")
	if !ok {
		p.forward.ServeHTTP(w, r)
		return
	}
	if !p.Before(w, r, op) {
		return
	}
	if p.simulating() && p.serveSimulated(w, r, op) {
		return
	}
	switch op {
	case "CreateGrant":
		p.createGrant(w, r)
	case "ListGrants":
		p.listGrants(w, r)
	case "ListRetirableGrants":
		p.listRetirableGrants(w, r)
	case "RevokeGrant":
		p.revokeGrant(w, r)
	case "RetireGrant":
		p.retireGrant(w, r)
	case "ListKeyPolicies":
		p.listKeyPolicies(w, r)
	case "ConnectCustomKeyStore":
		p.connectKeyStore(w, r, op, true)
	case "DisconnectCustomKeyStore":
		p.connectKeyStore(w, r, op, false)
	case "DescribeCustomKeyStores":
		p.describeKeyStores(w, r)
	default:
		p.forward.ServeHTTP(w, r)
	}
}

// key is what the proxy needs of a key's DescribeKey answer.
type key struct {
	KeyId    string
	Arn      string
	KeyState string
}

// upstreamError is an error answer of local-kms, passed on to the client.
type upstreamError struct {
	status int
	body   []byte
	header http.Header
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("local-kms answered %d: %s", e.status, e.body)
}

// describeUpstream resolves a key ID, key ARN, alias name or alias ARN
// through local-kms DescribeKey, without Simulations.
func (p *Proxy) describeUpstream(r *http.Request, keyID string) (key, error) {
	body, _ := json.Marshal(map[string]string{"KeyId": keyID})
	b, err := p.call(r, "DescribeKey", body)
	if err != nil {
		return key{}, err
	}
	var out struct{ KeyMetadata key }
	if err := json.Unmarshal(b, &out); err != nil || out.KeyMetadata.Arn == "" {
		return key{}, fmt.Errorf("DescribeKey answer of local-kms has no KeyMetadata.Arn: %s", b)
	}
	return out.KeyMetadata, nil
}

// describe is describeUpstream with the key's Simulation applied: a
// deleted key is NotFound, a simulated state replaces local-kms's.
func (p *Proxy) describe(r *http.Request, keyID string) (key, error) {
	k, err := p.describeUpstream(r, keyID)
	if err != nil {
		return k, err
	}
	sim, state, ok := p.simulation(k.Arn, k.KeyState)
	if ok && sim.Deleted {
		return key{}, notFound(keyID, k.Arn)
	}
	k.KeyState = state
	return k, nil
}

// resolve is describe that writes the error to w; ok is false on error.
func (p *Proxy) resolve(w http.ResponseWriter, r *http.Request, keyID string) (key, bool) {
	if keyID == "" {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
		return key{}, false
	}
	k, err := p.describe(r, keyID)
	if err == nil {
		return k, true
	}
	writeCallError(w, err)
	return key{}, false
}

// AddGrant stores a grant on the key identified by keyID (ID, ARN or
// alias) as CreateGrant would, filling GrantId, KeyId, CreationDate and
// IssuingAccount when empty, and returns the stored grant and its token.
// It is meant for seeding tests.
func (p *Proxy) AddGrant(g Grant) (Grant, string, error) {
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	k, err := p.describe(req, g.KeyId)
	if err != nil {
		return Grant{}, "", fmt.Errorf("kmsproxy: AddGrant on key %q: %w", g.KeyId, err)
	}
	stored := p.store(k, g)
	return *stored, stored.token, nil
}

// store adds g to the grants of k and returns the stored copy.
func (p *Proxy) store(k key, g Grant) *Grant {
	g.KeyId = k.Arn
	if g.GrantId == "" {
		g.GrantId = randomHex(32)
	}
	if g.CreationDate == 0 {
		g.CreationDate = float64(p.now().Unix())
	}
	if g.IssuingAccount == "" {
		g.IssuingAccount = "arn:aws:iam::" + accountOf(k.Arn) + ":root"
	}
	g.token = base64.RawURLEncoding.EncodeToString([]byte(g.GrantId + ":" + randomHex(16)))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grants[k.Arn] = append(p.grants[k.Arn], &g)
	return &g
}

func (p *Proxy) createGrant(w http.ResponseWriter, r *http.Request) {
	var in struct {
		KeyId             string
		GranteePrincipal  string
		RetiringPrincipal string
		Operations        []string
		Constraints       *GrantConstraints
		Name              string
		DryRun            bool
	}
	if !awsjson.Decode(w, r, "CreateGrant", "SerializationException", &in) {
		return
	}
	if in.GranteePrincipal == "" {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null")
		return
	}
	if len(in.Operations) == 0 {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have at least 1 element")
		return
	}
	for _, op := range in.Operations {
		if !slices.Contains(validOperations, op) {
			awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value '[%s]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: %v]", op, validOperations))
			return
		}
	}
	if c := in.Constraints; c != nil && len(c.EncryptionContextEquals) > 0 && len(c.EncryptionContextSubset) > 0 {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "Constraints may contain EncryptionContextEquals or EncryptionContextSubset, not both")
		return
	}
	k, ok := p.resolve(w, r, in.KeyId)
	if !ok {
		return
	}
	switch k.KeyState {
	case "Enabled":
	case "Disabled":
		awsjson.WriteError(w, http.StatusBadRequest, "DisabledException", k.Arn+" is disabled.")
		return
	default:
		awsjson.WriteError(w, http.StatusBadRequest, "KMSInvalidStateException", k.Arn+" is "+k.KeyState)
		return
	}
	if in.DryRun {
		awsjson.WriteError(w, http.StatusPreconditionFailed, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
		return
	}
	// KMS makes CreateGrant with the same name and parameters idempotent.
	if in.Name != "" {
		p.mu.Lock()
		for _, g := range p.grants[k.Arn] {
			if g.Name == in.Name && g.GranteePrincipal == in.GranteePrincipal &&
				g.RetiringPrincipal == in.RetiringPrincipal && slices.Equal(g.Operations, in.Operations) {
				id, token := g.GrantId, g.token
				p.mu.Unlock()
				awsjson.WriteResult(w, map[string]string{"GrantId": id, "GrantToken": token})
				return
			}
		}
		p.mu.Unlock()
	}
	g := p.store(k, Grant{
		Name:              in.Name,
		GranteePrincipal:  in.GranteePrincipal,
		RetiringPrincipal: in.RetiringPrincipal,
		Operations:        in.Operations,
		Constraints:       in.Constraints,
	})
	awsjson.WriteResult(w, map[string]string{"GrantId": g.GrantId, "GrantToken": g.token})
}

// writeGrantPage cuts grants at marker (an index) to at most limit entries (1-100,
// default 50) and writes the ListGrants-shaped answer.
func writeGrantPage(w http.ResponseWriter, grants []Grant, limit int, marker string) {
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 100 {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", limit))
		return
	}
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(grants) {
			awsjson.WriteError(w, http.StatusBadRequest, "InvalidMarkerException", "Invalid marker "+strconv.Quote(marker))
			return
		}
		start = n
	}
	end := min(start+limit, len(grants))
	out := struct {
		Grants     []Grant
		NextMarker string `json:",omitempty"`
		Truncated  bool
	}{Grants: grants[start:end]}
	if out.Grants == nil {
		out.Grants = []Grant{}
	}
	if end < len(grants) {
		out.NextMarker = strconv.Itoa(end)
		out.Truncated = true
	}
	awsjson.WriteResult(w, out)
}

func (p *Proxy) listGrants(w http.ResponseWriter, r *http.Request) {
	var in struct {
		KeyId            string
		Limit            int
		Marker           string
		GrantId          string
		GranteePrincipal string
	}
	if !awsjson.Decode(w, r, "ListGrants", "SerializationException", &in) {
		return
	}
	k, ok := p.resolve(w, r, in.KeyId)
	if !ok {
		return
	}
	var out []Grant
	p.mu.Lock()
	for _, g := range p.grants[k.Arn] {
		if (in.GrantId == "" || g.GrantId == in.GrantId) &&
			(in.GranteePrincipal == "" || g.GranteePrincipal == in.GranteePrincipal) {
			out = append(out, *g)
		}
	}
	p.mu.Unlock()
	writeGrantPage(w, out, in.Limit, in.Marker)
}

func (p *Proxy) listRetirableGrants(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RetiringPrincipal string
		Limit             int
		Marker            string
	}
	if !awsjson.Decode(w, r, "ListRetirableGrants", "SerializationException", &in) {
		return
	}
	if in.RetiringPrincipal == "" {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'retiringPrincipal' failed to satisfy constraint: Member must not be null")
		return
	}
	var out []Grant
	p.mu.Lock()
	keys := make([]string, 0, len(p.grants))
	for k := range p.grants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, g := range p.grants[k] {
			if g.RetiringPrincipal == in.RetiringPrincipal {
				out = append(out, *g)
			}
		}
	}
	p.mu.Unlock()
	writeGrantPage(w, out, in.Limit, in.Marker)
}

// remove deletes the grant with id from the key's grants; it reports
// whether there was one.
func (p *Proxy) remove(keyArn, id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	gs := p.grants[keyArn]
	for i, g := range gs {
		if g.GrantId == id {
			p.grants[keyArn] = slices.Delete(gs, i, i+1)
			return true
		}
	}
	return false
}

// removeByKey answers RevokeGrant, and RetireGrant by key and grant id:
// it removes the grant grantID of the key keyID, or writes KMS's error.
func (p *Proxy) removeByKey(w http.ResponseWriter, r *http.Request, keyID, grantID string) {
	if !validGrantID(grantID) {
		awsjson.WriteError(w, http.StatusBadRequest, "InvalidGrantIdException", "Invalid grant ID "+strconv.Quote(grantID))
		return
	}
	k, ok := p.resolve(w, r, keyID)
	if !ok {
		return
	}
	if !p.remove(k.Arn, grantID) {
		awsjson.WriteError(w, http.StatusBadRequest, "NotFoundException", "Grant ID "+grantID+" not found for key "+k.Arn)
		return
	}
	awsjson.WriteResult(w, struct{}{})
}

func (p *Proxy) revokeGrant(w http.ResponseWriter, r *http.Request) {
	var in struct{ KeyId, GrantId string }
	if !awsjson.Decode(w, r, "RevokeGrant", "SerializationException", &in) {
		return
	}
	p.removeByKey(w, r, in.KeyId, in.GrantId)
}

func (p *Proxy) retireGrant(w http.ResponseWriter, r *http.Request) {
	var in struct{ GrantToken, KeyId, GrantId string }
	if !awsjson.Decode(w, r, "RetireGrant", "SerializationException", &in) {
		return
	}
	if in.GrantToken != "" {
		p.mu.Lock()
		var keyArn, id string
		for k, gs := range p.grants {
			for _, g := range gs {
				if g.token == in.GrantToken {
					keyArn, id = k, g.GrantId
				}
			}
		}
		p.mu.Unlock()
		if id == "" {
			awsjson.WriteError(w, http.StatusBadRequest, "InvalidGrantTokenException", "Grant token is not valid or its grant no longer exists")
			return
		}
		p.remove(keyArn, id)
		awsjson.WriteResult(w, struct{}{})
		return
	}
	if in.KeyId == "" || in.GrantId == "" {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "RetireGrant needs GrantToken, or KeyId and GrantId")
		return
	}
	p.removeByKey(w, r, in.KeyId, in.GrantId)
}

func (p *Proxy) listKeyPolicies(w http.ResponseWriter, r *http.Request) {
	var in struct {
		KeyId  string
		Limit  int
		Marker string
	}
	if !awsjson.Decode(w, r, "ListKeyPolicies", "SerializationException", &in) {
		return
	}
	if _, ok := p.resolve(w, r, in.KeyId); !ok {
		return
	}
	if in.Limit < 0 || in.Limit > 1000 {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", in.Limit))
		return
	}
	// Every KMS key has exactly one policy, named "default".
	awsjson.WriteResult(w, map[string]any{"PolicyNames": []string{"default"}, "Truncated": false})
}

// Grants returns a copy of the grants of the key with ARN keyArn.
func (p *Proxy) Grants(keyArn string) []Grant {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Grant, 0, len(p.grants[keyArn]))
	for _, g := range p.grants[keyArn] {
		out = append(out, *g)
	}
	return out
}

// ClearGrants forgets every grant of every key.
func (p *Proxy) ClearGrants() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grants = map[string][]*Grant{}
}

// validGrantID reports whether id looks like a KMS grant ID (1-128
// characters, no spaces).
func validGrantID(id string) bool {
	return id != "" && len(id) <= 128 && !strings.ContainsAny(id, " \t\n")
}

// accountOf returns the account field of an ARN, or "".
func accountOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return ""
	}
	return a.AccountID
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
