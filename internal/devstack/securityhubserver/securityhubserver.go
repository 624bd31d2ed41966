// Package securityhubserver is a stand-in for the AWS Security Hub API, for
// the devstack. It speaks Security Hub's REST-JSON protocol for the two
// calls fsxkms and its tests make, BatchImportFindings (POST
// /findings/import) and GetFindings (POST /findings, with Id, RecordState,
// ComplianceStatus, GeneratorId and AwsAccountId filters and NextToken
// paging), and enforces what real Security Hub enforces and moto's stand-in
// does not:
//
//   - at most 100 findings per call (InvalidInputException for the whole
//     call), at most 6 MB per call and 240 KB per finding;
//   - the required ASFF attributes (SchemaVersion 2018-10-08, Id,
//     ProductArn, GeneratorId, AwsAccountId, Types, CreatedAt, UpdatedAt,
//     Severity, Title, Description, Resources), the field limits fsxkms
//     relies on (Title 256 and Description 1024 characters, Remediation
//     text 512, 1 to 32 resources) and the enumerations it uses;
//   - the default product ARN of the stack's account and Region, and
//     AwsAccountId equal to that account (the caller's);
//   - an update applies only when its UpdatedAt is later than the stored
//     one (an older or equal one is accepted and ignored, as Security Hub
//     does); Workflow is the customer's: set to NEW on creation, ignored on
//     updates, reset to NEW when an ARCHIVED finding becomes ACTIVE again or
//     Compliance goes from PASSED to anything else;
//   - Security Hub not enabled (SetEnabled(false)): every call fails with
//     401 InvalidAccessException, "not subscribed".
//
// Tests read what arrived with Findings, Batches and Ignored, make single
// findings fail with FailFindings and whole calls fail with Inject, and
// start afresh with Reset.
package securityhubserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fsxkms/fsxkms/internal/awsid"
	"github.com/fsxkms/fsxkms/internal/devstack/awsjson"
)

// Limits of BatchImportFindings (Security Hub API reference and quotas).
const (
	MaxFindingsPerCall = 100
	MaxFindingBytes    = 240 * 1024
	MaxCallBytes       = 6 * 1024 * 1024
)

// Operation names, as Inject and Calls know them.
const (
	OpBatchImportFindings = "BatchImportFindings"
	OpGetFindings         = "GetFindings"
)

// Server is the Security Hub stand-in. Create it with New; it is an
// http.Handler and safe for concurrent use.
type Server struct {
	awsjson.Hooks

	account, region string

	mu       sync.Mutex
	disabled bool
	findings map[string]map[string]any // by Id, as stored
	order    []string                  // Ids in order of creation
	batches  []int
	ignored  int
	failNext int
	failCode string
}

// New returns a server for one account and Region, with Security Hub
// enabled and no finding.
func New(account, region string) *Server {
	return &Server{account: account, region: region, findings: map[string]map[string]any{}}
}

// ProductARN is the default product ARN of the server's account and Region.
func (s *Server) ProductARN() string {
	return fmt.Sprintf("arn:aws:securityhub:%s:%s:product/%s/default", s.region, s.account, s.account)
}

// Reset forgets every finding, batch, fault and failure and enables
// Security Hub again.
func (s *Server) Reset() {
	s.ClearFaults()
	s.ResetCalls()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = false
	s.findings = map[string]map[string]any{}
	s.order = nil
	s.batches = nil
	s.ignored = 0
	s.failNext, s.failCode = 0, ""
}

// SetEnabled turns Security Hub on or off in the server's account and
// Region; off, every call fails with InvalidAccessException.
func (s *Server) SetEnabled(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = !on
}

// FailFindings makes the next n findings imported (one by one, over any
// number of calls) come back in FailedFindings with ErrorCode code.
func (s *Server) FailFindings(n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, code
}

// Batches returns the number of findings of each BatchImportFindings call
// that got an answer other than an error for the whole call, in order.
func (s *Server) Batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// Ignored counts the imports accepted but not applied because their
// UpdatedAt was not later than the stored finding's.
func (s *Server) Ignored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ignored
}

// Findings returns the stored findings, in order of creation, as JSON
// documents.
func (s *Server) Findings() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, 0, len(s.order))
	for _, id := range s.order {
		b, _ := json.Marshal(s.findings[id])
		out = append(out, b)
	}
	return out
}

// ServeHTTP answers BatchImportFindings and GetFindings.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var op string
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/findings/import":
		op = OpBatchImportFindings
	case r.Method == http.MethodPost && r.URL.Path == "/findings":
		op = OpGetFindings
	default:
		awsjson.WriteError(w, http.StatusNotFound, "UnknownOperationException",
			fmt.Sprintf("%s %s is not an operation of the local Security Hub (BatchImportFindings, GetFindings)", r.Method, r.URL.Path))
		return
	}
	if !s.Before(w, r, op) {
		return
	}
	s.mu.Lock()
	disabled := s.disabled
	s.mu.Unlock()
	if disabled {
		awsjson.WriteError(w, http.StatusUnauthorized, "InvalidAccessException",
			fmt.Sprintf("Account %s is not subscribed to AWS Security Hub", s.account))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallBytes+1))
	if err != nil || len(body) > MaxCallBytes {
		awsjson.WriteError(w, http.StatusRequestEntityTooLarge, "InvalidInputException",
			fmt.Sprintf("%s: the request is larger than %d bytes", op, MaxCallBytes))
		return
	}
	if op == OpBatchImportFindings {
		s.batchImport(w, body)
	} else {
		s.getFindings(w, body)
	}
}

type failed struct {
	ID           string `json:"Id"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

func (s *Server) batchImport(w http.ResponseWriter, body []byte) {
	var in struct {
		Findings []json.RawMessage `json:"Findings"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException", "BatchImportFindings: request body is not JSON: "+err.Error())
		return
	}
	if len(in.Findings) == 0 || len(in.Findings) > MaxFindingsPerCall {
		awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException",
			fmt.Sprintf("BatchImportFindings: %d findings; a call takes 1 to %d", len(in.Findings), MaxFindingsPerCall))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, len(in.Findings))
	out := struct {
		FailedCount    int      `json:"FailedCount"`
		FailedFindings []failed `json:"FailedFindings"`
		SuccessCount   int      `json:"SuccessCount"`
	}{FailedFindings: []failed{}}
	for _, raw := range in.Findings {
		var f map[string]any
		if err := json.Unmarshal(raw, &f); err != nil {
			out.FailedFindings = append(out.FailedFindings, failed{ErrorCode: "InvalidInput", ErrorMessage: "finding is not a JSON object"})
			continue
		}
		id, _ := f["Id"].(string)
		code, msg := s.check(f, len(raw))
		if code == "" && s.failNext > 0 {
			s.failNext--
			code, msg = s.failCode, "injected failure"
		}
		if code != "" {
			out.FailedFindings = append(out.FailedFindings, failed{ID: id, ErrorCode: code, ErrorMessage: msg})
			continue
		}
		s.store(id, f)
		out.SuccessCount++
	}
	out.FailedCount = len(out.FailedFindings)
	writeJSON(w, out)
}

var (
	severity = []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
	// typeNamespaces are the namespaces of ASFF Types
	// ("namespace/category/classifier").
	typeNamespaces = []string{"Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications"}
)

// check returns an ErrorCode and message when Security Hub would refuse f.
func (s *Server) check(f map[string]any, size int) (code, msg string) {
	invalid := func(format string, args ...any) (string, string) { return "InvalidInput", fmt.Sprintf(format, args...) }
	if size > MaxFindingBytes {
		return invalid("finding is %d bytes, more than %d", size, MaxFindingBytes)
	}
	for _, k := range []string{"SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "CreatedAt", "UpdatedAt", "Title", "Description"} {
		if v, _ := f[k].(string); v == "" {
			return invalid("required attribute %s is missing or empty", k)
		}
	}
	if v := f["SchemaVersion"]; v != "2018-10-08" {
		return invalid("SchemaVersion %v, want 2018-10-08", v)
	}
	if n := len(f["Id"].(string)); n > 512 {
		return invalid("Id has %d characters, at most 512", n)
	}
	if v := f["ProductArn"]; v != s.ProductARN() {
		return "AccessDeniedException", fmt.Sprintf("ProductArn %v: this account may import only with its default product %s", v, s.ProductARN())
	}
	if v := f["AwsAccountId"].(string); !awsid.Account(v) || v != s.account {
		return "AccessDeniedException", fmt.Sprintf("AwsAccountId %s: with the default product ARN the caller's account (%s) must be the finding's", v, s.account)
	}
	for _, k := range []string{"CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"} {
		if v, ok := f[k]; ok {
			if _, err := parseTime(v); err != nil {
				return invalid("%s %v is not an ISO 8601 timestamp", k, v)
			}
		}
	}
	types, _ := f["Types"].([]any)
	if len(types) == 0 || len(types) > 50 {
		return invalid("Types has %d entries, want 1 to 50", len(types))
	}
	for _, t := range types {
		ts, _ := t.(string)
		parts := strings.Split(ts, "/")
		if len(parts) > 3 || !slices.Contains(typeNamespaces, parts[0]) {
			return invalid("Types entry %q is not namespace/category/classifier with a known namespace", ts)
		}
	}
	if l, _ := get(f, "Severity", "Label").(string); !slices.Contains(severity, l) {
		return invalid("Severity.Label %q is not one of %v", l, severity)
	}
	if n := utf8.RuneCountInString(f["Title"].(string)); n > 256 {
		return invalid("Title has %d characters, at most 256", n)
	}
	if n := utf8.RuneCountInString(f["Description"].(string)); n > 1024 {
		return invalid("Description has %d characters, at most 1024", n)
	}
	if t, ok := get(f, "Remediation", "Recommendation", "Text").(string); ok && utf8.RuneCountInString(t) > 512 {
		return invalid("Remediation.Recommendation.Text has %d characters, at most 512", utf8.RuneCountInString(t))
	}
	resources, _ := f["Resources"].([]any)
	if len(resources) == 0 || len(resources) > 32 {
		return invalid("Resources has %d entries, want 1 to 32", len(resources))
	}
	for i, r := range resources {
		if id, _ := get(r, "Id").(string); id == "" {
			return invalid("Resources[%d].Id is missing", i)
		}
		if typ, _ := get(r, "Type").(string); typ == "" {
			return invalid("Resources[%d].Type is missing", i)
		}
		if other, ok := get(r, "Details", "Other").(map[string]any); ok && len(other) > 50 {
			return invalid("Resources[%d].Details.Other has %d fields, at most 50", i, len(other))
		}
	}
	if v, ok := get(f, "Compliance", "Status").(string); ok && !slices.Contains([]string{"PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"}, v) {
		return invalid("Compliance.Status %q", v)
	}
	if v, ok := f["RecordState"].(string); ok && v != "ACTIVE" && v != "ARCHIVED" {
		return invalid("RecordState %q", v)
	}
	if pf, ok := f["ProductFields"].(map[string]any); ok && len(pf) > 50 {
		return invalid("ProductFields has %d fields, at most 50", len(pf))
	}
	return "", ""
}

// store applies an import of f: a new finding, or an update when its
// UpdatedAt is later than the stored one's.
func (s *Server) store(id string, f map[string]any) {
	old, exists := s.findings[id]
	if !exists {
		if _, ok := f["RecordState"]; !ok {
			f["RecordState"] = "ACTIVE"
		}
		if get(f, "Workflow", "Status") == nil {
			f["Workflow"] = map[string]any{"Status": "NEW"}
		}
		s.findings[id] = f
		s.order = append(s.order, id)
		return
	}
	newAt, _ := parseTime(f["UpdatedAt"])
	oldAt, _ := parseTime(old["UpdatedAt"])
	if !newAt.After(oldAt) {
		s.ignored++
		return
	}
	workflow := old["Workflow"]
	if old["RecordState"] == "ARCHIVED" && f["RecordState"] != "ARCHIVED" ||
		get(old, "Compliance", "Status") == "PASSED" && get(f, "Compliance", "Status") != nil && get(f, "Compliance", "Status") != "PASSED" {
		workflow = map[string]any{"Status": "NEW"}
	}
	f["Workflow"] = workflow
	if _, ok := f["RecordState"]; !ok {
		f["RecordState"] = old["RecordState"]
	}
	f["CreatedAt"] = old["CreatedAt"] // CreatedAt is the first import's
	s.findings[id] = f
}

type stringFilter struct {
	Value      string `json:"Value"`
	Comparison string `json:"Comparison"`
}

func (s *Server) getFindings(w http.ResponseWriter, body []byte) {
	var in struct {
		Filters    map[string][]stringFilter `json:"Filters"`
		MaxResults int                       `json:"MaxResults"`
		NextToken  string                    `json:"NextToken"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException", "GetFindings: only string filters are supported here: "+err.Error())
			return
		}
	}
	paths := map[string][]string{
		"Id": {"Id"}, "RecordState": {"RecordState"}, "ComplianceStatus": {"Compliance", "Status"},
		"GeneratorId": {"GeneratorId"}, "AwsAccountId": {"AwsAccountId"}, "WorkflowStatus": {"Workflow", "Status"},
	}
	for name, fs := range in.Filters {
		if _, ok := paths[name]; !ok {
			awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException", "GetFindings: filter "+name+" is not supported by the local Security Hub")
			return
		}
		for _, f := range fs {
			if f.Comparison != "EQUALS" {
				awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException", "GetFindings: only EQUALS comparisons are supported here")
				return
			}
		}
	}
	if in.MaxResults == 0 {
		in.MaxResults = 100
	}
	if in.MaxResults < 1 || in.MaxResults > 100 {
		awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException", "MaxResults must be a number from 1 to 100")
		return
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			awsjson.WriteError(w, http.StatusBadRequest, "InvalidInputException", "NextToken is not valid")
			return
		}
		start = n
	}
	s.mu.Lock()
	var matched []map[string]any
	for _, id := range s.order {
		f := s.findings[id]
		ok := true
		for name, fs := range in.Filters {
			v, _ := get(f, paths[name]...).(string)
			any := false
			for _, flt := range fs {
				any = any || v == flt.Value
			}
			ok = ok && (len(fs) == 0 || any)
		}
		if ok {
			matched = append(matched, f)
		}
	}
	s.mu.Unlock()
	out := struct {
		Findings  []map[string]any `json:"Findings"`
		NextToken string           `json:"NextToken,omitempty"`
	}{Findings: []map[string]any{}}
	if start < len(matched) {
		end := min(start+in.MaxResults, len(matched))
		out.Findings = matched[start:end]
		if end < len(matched) {
			out.NextToken = strconv.Itoa(end)
		}
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		awsjson.WriteError(w, http.StatusInternalServerError, "InternalException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// parseTime reads an ASFF timestamp (RFC 3339, fractional seconds
// allowed).
func parseTime(v any) (time.Time, error) {
	s, _ := v.(string)
	return time.Parse(time.RFC3339Nano, s)
}

// get follows keys through nested JSON objects; nil if one is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
