package kmsproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
)

// Simulation is a key state that local-kms cannot reach on a key, which the
// proxy lays over local-kms's answers about that key (see Proxy.Simulate):
//
//   - a deleted key: local-kms deletes a key only when its waiting period
//     (7 days at least) is over;
//   - a key whose imported key material was deleted or expired
//     (PendingImport): local-kms does so only for keys created with origin
//     EXTERNAL, and the demo's keys are not;
//   - a key in a custom key store, connected or not: local-kms has no
//     custom key stores.
//
// The zero Simulation is none.
type Simulation struct {
	// Deleted: KMS deleted the key at the end of its waiting period (the
	// "KMS CMK Deletion" event, CloudTrail's DeleteKey). Every call that
	// names the key, by id, ARN, alias name or alias ARN, fails with
	// NotFoundException as in KMS; ListKeys leaves the key out, ListAliases
	// its aliases, and its grants are forgotten for good.
	Deleted bool
	// Origin replaces the key's Origin in DescribeKey: EXTERNAL for
	// imported key material, AWS_CLOUDHSM for a key in a custom key store.
	Origin string
	// KeyState replaces an Enabled or Disabled state (local-kms's own
	// Disabled and PendingDeletion states are kept otherwise):
	// PendingImport (the imported material was deleted or expired; needs
	// Origin EXTERNAL), Updating (UpdatePrimaryRegion), or any other KMS
	// state. Cryptographic operations, CreateGrant, EnableKey and
	// DisableKey then fail with KMSInvalidStateException.
	KeyState string
	// ExpirationModel and ValidTo are those of the key's imported material
	// (Origin EXTERNAL), as DescribeKey shows them.
	ExpirationModel string
	ValidTo         time.Time
	// CustomKeyStoreID puts the key in that custom key store (an
	// AWS_CLOUDHSM one, created CONNECTED if the proxy does not know it):
	// while the store is disconnected (DisconnectCustomKeyStore) the key is
	// Unavailable.
	CustomKeyStoreID string
}

// keyStore is a custom key store the proxy simulates.
type keyStore struct {
	id        string
	connected bool
	created   time.Time
}

// cryptoOps are the operations a key must be Enabled for; KMS answers
// KMSInvalidStateException on a key in another state.
var cryptoOps = []string{
	"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GetPublicKey",
	"GenerateMac", "VerifyMac", "DeriveSharedSecret", "EnableKey", "DisableKey",
}

// Simulate lays s over the key keyID (an id, ARN, alias name or alias ARN
// of a key in local-kms) until ClearSimulations, or until Simulate is
// called again for that key (the zero Simulation removes it). It returns
// the key's ARN.
func (p *Proxy) Simulate(keyID string, s Simulation) (string, error) {
	if s.KeyState == "PendingImport" && s.Origin != "EXTERNAL" {
		return "", fmt.Errorf("kmsproxy: Simulate %s: KeyState PendingImport needs Origin EXTERNAL (only imported key material can be deleted)", keyID)
	}
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	k, err := p.describeUpstream(req, keyID)
	if err != nil {
		return "", fmt.Errorf("kmsproxy: Simulate on key %q: %w", keyID, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s == (Simulation{}) {
		delete(p.sims, k.Arn)
		return k.Arn, nil
	}
	if s.Deleted {
		delete(p.grants, k.Arn)
	}
	if id := s.CustomKeyStoreID; id != "" && p.stores[id] == nil {
		p.stores[id] = &keyStore{id: id, connected: true, created: p.now()}
	}
	sim := s
	p.sims[k.Arn] = &sim
	return k.Arn, nil
}

// ClearSimulations removes every Simulation and custom key store. Grants of
// a key simulated as deleted stay forgotten.
func (p *Proxy) ClearSimulations() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sims = map[string]*Simulation{}
	p.stores = map[string]*keyStore{}
}

// simulating reports whether any key is simulated.
func (p *Proxy) simulating() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sims) > 0
}

// simulation returns a copy of the Simulation of the key with ARN arn and
// the state it gives the key whose local-kms state is state; ok is false
// when the key is not simulated.
func (p *Proxy) simulation(arn, state string) (s Simulation, effective string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sim := p.sims[arn]
	if sim == nil {
		return Simulation{}, state, false
	}
	effective = state
	if state == "Enabled" || state == "Disabled" {
		if st := p.stores[sim.CustomKeyStoreID]; st != nil && !st.connected {
			effective = "Unavailable"
		} else if sim.KeyState != "" {
			effective = sim.KeyState
		}
	}
	return *sim, effective, true
}

// notFound is KMS's answer about a key, or an alias of a key, that does not
// exist.
func notFound(keyID, arn string) *upstreamError {
	msg := "Key '" + arn + "' does not exist"
	if strings.HasPrefix(keyID, "alias/") || strings.Contains(keyID, ":alias/") {
		alias := keyID
		if !strings.HasPrefix(alias, "arn:") {
			alias = arn[:strings.LastIndex(arn, ":")+1] + alias // the key's account and Region
		}
		msg = "Alias " + alias + " is not found."
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(map[string]string{"__type": "NotFoundException", "message": msg})
	h := http.Header{}
	h.Set("Content-Type", awsjson.ContentType)
	h.Set("X-Amzn-ErrorType", "NotFoundException")
	return &upstreamError{status: http.StatusBadRequest, body: bytes.TrimSpace(buf.Bytes()), header: h}
}

// invalidState is KMS's KMSInvalidStateException for a key in state.
func invalidState(w http.ResponseWriter, arn, state string) {
	words := map[string]string{"PendingImport": "pending import", "Unavailable": "unavailable", "Updating": "updating",
		"Creating": "being created", "PendingDeletion": "pending deletion", "Disabled": "disabled"}
	what, ok := words[state]
	if !ok {
		what = state
	}
	awsjson.WriteError(w, http.StatusBadRequest, "KMSInvalidStateException", arn+" is "+what+".")
}

// writeUpstreamError passes an error answer on to the client.
func writeUpstreamError(w http.ResponseWriter, ue *upstreamError) {
	for _, h := range []string{"Content-Type", "X-Amzn-ErrorType"} {
		if v := ue.header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(ue.status)
	w.Write(ue.body)
}

// call sends op with body to local-kms and returns its answer; a non-200
// answer is an *upstreamError.
func (p *Proxy) call(r *http.Request, op string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.upstream.String()+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", awsjson.ContentType)
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s on local-kms: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s answer of local-kms: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &upstreamError{status: resp.StatusCode, body: b, header: resp.Header}
	}
	return b, nil
}

// writeCallError writes an error of call or describe.
func writeCallError(w http.ResponseWriter, err error) {
	if ue, ok := err.(*upstreamError); ok {
		writeUpstreamError(w, ue)
		return
	}
	awsjson.WriteError(w, http.StatusInternalServerError, "KMSInternalException", err.Error())
}

// serveSimulated answers a request that a Simulation changes and reports
// whether it did; when it did not, the body is left readable for the usual
// handling.
func (p *Proxy) serveSimulated(w http.ResponseWriter, r *http.Request, op string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var in struct{ KeyId, TargetKeyId string }
	json.Unmarshal(body, &in)
	switch op {
	case "ListKeys":
		return p.listKeysSimulated(w, r, body)
	case "ListAliases":
		return p.listAliasesSimulated(w, r, in.KeyId, body)
	case "DescribeKey":
		return p.describeKeySimulated(w, r, in.KeyId, body)
	}
	for _, id := range []string{in.KeyId, in.TargetKeyId} {
		if id == "" {
			continue
		}
		k, err := p.describeUpstream(r, id)
		if err != nil {
			continue // the usual handling answers local-kms's error
		}
		sim, state, ok := p.simulation(k.Arn, k.KeyState)
		switch {
		case !ok:
		case sim.Deleted:
			writeUpstreamError(w, notFound(id, k.Arn))
			return true
		case op == "DeleteImportedKeyMaterial" && sim.Origin == "EXTERNAL":
			p.setMaterial(k.Arn, "PendingImport", "", time.Time{})
			awsjson.WriteResult(w, struct{}{})
			return true
		case op == "ImportKeyMaterial" && sim.Origin == "EXTERNAL":
			// The material itself is not checked: the key's real material
			// is local-kms's own.
			var imp struct {
				ExpirationModel string
				ValidTo         float64
			}
			json.Unmarshal(body, &imp)
			var validTo time.Time
			if imp.ValidTo > 0 {
				validTo = time.Unix(int64(imp.ValidTo), 0)
			}
			p.setMaterial(k.Arn, "", imp.ExpirationModel, validTo)
			awsjson.WriteResult(w, struct{}{})
			return true
		case state != k.KeyState && slices.Contains(cryptoOps, op):
			invalidState(w, k.Arn, state)
			return true
		}
	}
	return false
}

// setMaterial records a change of a simulated key's imported material.
func (p *Proxy) setMaterial(arn, state, model string, validTo time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.sims[arn]; s != nil {
		s.KeyState, s.ExpirationModel, s.ValidTo = state, model, validTo
	}
}

func (p *Proxy) describeKeySimulated(w http.ResponseWriter, r *http.Request, keyID string, body []byte) bool {
	b, err := p.call(r, "DescribeKey", body)
	if err != nil {
		writeCallError(w, err)
		return true
	}
	var out struct{ KeyMetadata map[string]any }
	if json.Unmarshal(b, &out) != nil || out.KeyMetadata == nil {
		return false
	}
	md := out.KeyMetadata
	arn, _ := md["Arn"].(string)
	state, _ := md["KeyState"].(string)
	sim, effective, ok := p.simulation(arn, state)
	if !ok {
		w.Header().Set("Content-Type", awsjson.ContentType)
		w.Write(b)
		return true
	}
	if sim.Deleted {
		writeUpstreamError(w, notFound(keyID, arn))
		return true
	}
	overlay(md, sim, effective)
	awsjson.WriteResult(w, out)
	return true
}

// overlay writes sim and the effective state into DescribeKey's metadata.
func overlay(md map[string]any, sim Simulation, state string) {
	md["KeyState"] = state
	md["Enabled"] = state == "Enabled"
	if sim.Origin != "" {
		md["Origin"] = sim.Origin
	}
	delete(md, "ExpirationModel")
	delete(md, "ValidTo")
	if sim.Origin == "EXTERNAL" && state != "PendingImport" {
		if sim.ExpirationModel != "" {
			md["ExpirationModel"] = sim.ExpirationModel
		}
		if !sim.ValidTo.IsZero() {
			md["ValidTo"] = float64(sim.ValidTo.Unix())
		}
	}
	if sim.CustomKeyStoreID != "" {
		md["CustomKeyStoreId"] = sim.CustomKeyStoreID
		md["CloudHsmClusterId"] = "cluster-" + strings.TrimPrefix(sim.CustomKeyStoreID, "cks-")
	}
}

// deleted returns the ARNs and ids of the keys simulated as deleted.
func (p *Proxy) deleted() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for arn, s := range p.sims {
		if s.Deleted {
			out[arn] = true
			out[arn[strings.LastIndex(arn, "/")+1:]] = true
		}
	}
	return out
}

func (p *Proxy) listKeysSimulated(w http.ResponseWriter, r *http.Request, body []byte) bool {
	gone := p.deleted()
	if len(gone) == 0 {
		return false
	}
	return p.listWithout(w, r, "ListKeys", body, "Keys", "KeyArn", gone)
}

func (p *Proxy) listAliasesSimulated(w http.ResponseWriter, r *http.Request, keyID string, body []byte) bool {
	gone := p.deleted()
	if len(gone) == 0 {
		return false
	}
	if keyID != "" {
		if k, err := p.describeUpstream(r, keyID); err == nil && gone[k.Arn] {
			writeUpstreamError(w, notFound(keyID, k.Arn))
			return true
		}
	}
	return p.listWithout(w, r, "ListAliases", body, "Aliases", "TargetKeyId", gone)
}

// listWithout answers op from local-kms with the entries of its list
// field whose key field names a deleted key left out. It returns false,
// having written nothing, when local-kms's answer is not JSON.
func (p *Proxy) listWithout(w http.ResponseWriter, r *http.Request, op string, body []byte, list, key string, gone map[string]bool) bool {
	b, err := p.call(r, op, body)
	if err != nil {
		writeCallError(w, err)
		return true
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return false
	}
	entries, _ := out[list].([]any)
	kept := []any{}
	for _, e := range entries {
		if m, _ := e.(map[string]any); m == nil || !gone[fmt.Sprint(m[key])] {
			kept = append(kept, e)
		}
	}
	out[list] = kept
	awsjson.WriteResult(w, out)
	return true
}

// connectKeyStore answers ConnectCustomKeyStore (connect true) and
// DisconnectCustomKeyStore for the custom key stores of Simulations. Both
// succeed on a store already in the state asked for.
func (p *Proxy) connectKeyStore(w http.ResponseWriter, r *http.Request, op string, connect bool) {
	var in struct{ CustomKeyStoreId string }
	if !awsjson.Decode(w, r, op, "SerializationException", &in) {
		return
	}
	if in.CustomKeyStoreId == "" {
		awsjson.WriteError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'customKeyStoreId' failed to satisfy constraint: Member must not be null")
		return
	}
	p.mu.Lock()
	st := p.stores[in.CustomKeyStoreId]
	if st != nil {
		st.connected = connect
	}
	p.mu.Unlock()
	if st == nil {
		awsjson.WriteError(w, http.StatusBadRequest, "CustomKeyStoreNotFoundException", "Custom key store "+in.CustomKeyStoreId+" is not found.")
		return
	}
	awsjson.WriteResult(w, struct{}{})
}

// describeKeyStores answers DescribeCustomKeyStores with the custom key
// stores of Simulations, sorted by id, in one page.
func (p *Proxy) describeKeyStores(w http.ResponseWriter, r *http.Request) {
	var in struct{ CustomKeyStoreId, CustomKeyStoreName string }
	if !awsjson.Decode(w, r, "DescribeCustomKeyStores", "SerializationException", &in) {
		return
	}
	type store struct {
		CustomKeyStoreId   string
		CustomKeyStoreName string
		CustomKeyStoreType string
		CloudHsmClusterId  string
		ConnectionState    string
		CreationDate       float64
	}
	out := struct {
		CustomKeyStores []store
		Truncated       bool
	}{CustomKeyStores: []store{}}
	p.mu.Lock()
	for _, st := range p.stores {
		if (in.CustomKeyStoreId != "" && st.id != in.CustomKeyStoreId) || (in.CustomKeyStoreName != "" && st.id != in.CustomKeyStoreName) {
			continue
		}
		state := "CONNECTED"
		if !st.connected {
			state = "DISCONNECTED"
		}
		out.CustomKeyStores = append(out.CustomKeyStores, store{
			CustomKeyStoreId: st.id, CustomKeyStoreName: st.id, CustomKeyStoreType: "AWS_CLOUDHSM",
			CloudHsmClusterId: "cluster-" + strings.TrimPrefix(st.id, "cks-"), ConnectionState: state,
			CreationDate: float64(st.created.Unix()),
		})
	}
	p.mu.Unlock()
	sort.Slice(out.CustomKeyStores, func(i, j int) bool {
		return out.CustomKeyStores[i].CustomKeyStoreId < out.CustomKeyStores[j].CustomKeyStoreId
	})
	if len(out.CustomKeyStores) == 0 && (in.CustomKeyStoreId != "" || in.CustomKeyStoreName != "") {
		name := in.CustomKeyStoreId
		if name == "" {
			name = in.CustomKeyStoreName
		}
		awsjson.WriteError(w, http.StatusBadRequest, "CustomKeyStoreNotFoundException", "Custom key store "+name+" is not found.")
		return
	}
	awsjson.WriteResult(w, out)
}
