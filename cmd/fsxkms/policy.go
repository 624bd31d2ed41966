package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/fsxkms/fsxkms/internal/awsid"
	"github.com/fsxkms/fsxkms/pkg/policy"
)

const policyEvalHelp = `usage: fsxkms policy eval --policy FILE --request FILE [--json]

Evaluates one request against a key policy and prints the decision (Allow,
Deny-explicit, Deny-implicit, Delegated-to-IAM, Indeterminate) on the first
line, then the deciding statements and the reason. The request file is
  {"principal": ARN, "action": "kms:Decrypt", "resource": KEY-ARN (optional),
   "context": {"kms:ViaService": "fsx.us-east-1.amazonaws.com",
               "kms:GrantOperations": ["Decrypt"]},
   "unknown": ["kms:EncryptionContext:*"] (optional: keys whose value is
              unknown)}

Flags:
  --policy FILE    the key policy (JSON); - reads standard input
  --request FILE   the request (JSON); - reads standard input (not both)
  --json           print {"decision", "statements", "reason"}

Exit status: 0, or 2 on bad input or usage.
`

const policyCheckHelp = `usage: fsxkms policy check --policy FILE --account ID --region REGION
                           [--key-arn ARN] [--principal ARN]... [--json]
                           [--key-origin ORIGIN] [--multi-region-key-type TYPE]
                           [--principal-org-id ID]

Evaluates every KMS permission Amazon FSx uses, in the request context FSx's
calls carry, and says whether one principal holds every required one.

Flags:
  --policy FILE        the key policy (JSON); - reads standard input
  --account ID         the account that owns the FSx resources
  --region REGION      the Region of the FSx resources, e.g. us-east-1
  --key-arn ARN        the key's ARN (optional)
  --principal ARN      a principal that manages FSx (repeatable); without it,
                       any principal of the account and those the policy names
  --json               print the result as JSON
  --key-origin ORIGIN  kms:KeyOrigin: AWS_KMS, EXTERNAL, AWS_CLOUDHSM or
                       EXTERNAL_KEY_STORE; unknown when unset
  --multi-region-key-type TYPE
                       kms:MultiRegionKeyType: PRIMARY or REPLICA; unknown
                       when unset
  --principal-org-id ID
                       aws:PrincipalOrgID of the callers; unknown when unset

Exit status: 0 when every required permission is usable via FSx, 1 when one
is not (undecided included), 2 on bad input or usage.
`

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

func loadPolicy(name string, stdin io.Reader) (*policy.Policy, error) {
	if name == "" {
		return nil, errors.New("--policy is required")
	}
	doc, err := readInput(name, stdin)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// requestFile is the JSON form of a request for "policy eval".
type requestFile struct {
	Principal string                     `json:"principal"`
	Action    string                     `json:"action"`
	Resource  string                     `json:"resource"`
	Context   map[string]json.RawMessage `json:"context"`
	Unknown   []string                   `json:"unknown"`
}

func parseRequest(doc []byte) (policy.Request, error) {
	var rf requestFile
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return policy.Request{}, fmt.Errorf("not a request object: %w", err)
	}
	if rf.Action == "" {
		return policy.Request{}, errors.New(`"action" is required, e.g. "kms:Decrypt"`)
	}
	if rf.Principal == "" {
		return policy.Request{}, errors.New(`"principal" is required (an ARN or an account id)`)
	}
	r := policy.Request{Principal: rf.Principal, Action: rf.Action, Resource: rf.Resource,
		Context: make(map[string][]string, len(rf.Context)), Unknown: rf.Unknown}
	for k, raw := range rf.Context {
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			r.Context[k] = []string{one}
			continue
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil || many == nil {
			return policy.Request{}, fmt.Errorf("context %q: want a string or an array of strings, got %s", k, raw)
		}
		r.Context[k] = many
	}
	return r, nil
}

func runPolicyEval(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms policy eval")
	policyFile := fs.String("policy", "", "key policy JSON `file` (- for stdin)")
	requestName := fs.String("request", "", "request JSON `file` (- for stdin)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, ok := parseFlags(fs, policyEvalHelp, args, stdout, stderr); !ok {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "fsxkms policy eval: %v\n", err)
		return 2
	}
	if *policyFile == "-" && *requestName == "-" {
		return usageError(stderr, fs.Name(), "only one of --policy and --request can read standard input")
	}
	if *policyFile == "" {
		return usageError(stderr, fs.Name(), "--policy is required")
	}
	if *requestName == "" {
		return usageError(stderr, fs.Name(), "--request is required")
	}
	p, err := loadPolicy(*policyFile, stdin)
	if err != nil {
		return fail(err)
	}
	doc, err := readInput(*requestName, stdin)
	if err != nil {
		return fail(fmt.Errorf("reading request: %w", err))
	}
	req, err := parseRequest(doc)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", *requestName, err))
	}
	res := p.Evaluate(req)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fail(err)
		}
		return 0
	}
	fmt.Fprintln(stdout, res.Decision)
	if len(res.Statements) > 0 {
		fmt.Fprintf(stdout, "statements: %s\n", strings.Join(res.Statements, ", "))
	}
	fmt.Fprintf(stdout, "reason: %s\n", res.Reason)
	return 0
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

func runPolicyCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms policy check")
	policyFile := fs.String("policy", "", "key policy JSON `file` (- for stdin)")
	account := fs.String("account", "", "`account` id that owns the FSx resources")
	region := fs.String("region", "", "AWS `region` of the FSx resources")
	keyARN := fs.String("key-arn", "", "the key's `ARN` (optional)")
	var principals stringList
	fs.Var(&principals, "principal", "`ARN` of a principal that manages FSx (repeatable)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	origin := fs.String("key-origin", "", "the key's `origin` (kms:KeyOrigin: AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE); unknown if unset")
	mrType := fs.String("multi-region-key-type", "", "`PRIMARY` or REPLICA for a multi-Region key (kms:MultiRegionKeyType); unknown if unset")
	orgID := fs.String("principal-org-id", "", "the callers' organization `id` (aws:PrincipalOrgID); unknown if unset")
	if code, ok := parseFlags(fs, policyCheckHelp, args, stdout, stderr); !ok {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "fsxkms policy check: %v\n", err)
		return 2
	}
	if *policyFile == "" {
		return usageError(stderr, fs.Name(), "--policy is required")
	}
	switch {
	case !awsid.Account(*account):
		return usageError(stderr, fs.Name(), fmt.Sprintf("--account %q: want a 12-digit account id", *account))
	case !regionRE.MatchString(*region):
		return usageError(stderr, fs.Name(), fmt.Sprintf("--region %q: want a region such as us-east-1", *region))
	}
	if *keyARN != "" && !strings.HasPrefix(*keyARN, "arn:") {
		return usageError(stderr, fs.Name(), fmt.Sprintf("--key-arn %q: want a key ARN", *keyARN))
	}
	for _, pr := range principals {
		if !strings.HasPrefix(pr, "arn:") && !awsid.Account(pr) {
			return usageError(stderr, fs.Name(), fmt.Sprintf("--principal %q: want an IAM ARN or an account id", pr))
		}
	}
	switch *origin {
	case "", "AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE":
	default:
		return usageError(stderr, fs.Name(), fmt.Sprintf("--key-origin %q: want AWS_KMS, EXTERNAL, AWS_CLOUDHSM or EXTERNAL_KEY_STORE", *origin))
	}
	switch *mrType {
	case "", "PRIMARY", "REPLICA":
	default:
		return usageError(stderr, fs.Name(), fmt.Sprintf("--multi-region-key-type %q: want PRIMARY or REPLICA", *mrType))
	}
	p, err := loadPolicy(*policyFile, stdin)
	if err != nil {
		return fail(err)
	}
	res := policy.CheckFSx(p, policy.FSxParams{Account: *account, Region: *region, KeyARN: *keyARN, Principals: principals,
		Key: policy.KeyFacts{Origin: *origin, MultiRegionKeyType: *mrType}, PrincipalOrgID: *orgID})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fail(err)
		}
	} else {
		printCheck(stdout, res)
	}
	if !res.Usable {
		return 1
	}
	return 0
}

func printCheck(w io.Writer, res policy.FSxResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PERMISSION\tREQUIRED\tDECISION\tWHO\tSTATEMENTS")
	for _, p := range res.Permissions {
		req := "optional"
		if p.Required {
			req = "required"
		}
		stmts := "-"
		if len(p.Statements) > 0 {
			q := make([]string, len(p.Statements))
			for i, s := range p.Statements {
				q[i] = fmt.Sprintf("%q", s)
			}
			stmts = strings.Join(q, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Action, req, p.Decision, p.Who, stmts)
	}
	tw.Flush()
	fmt.Fprintln(w)
	explained := false
	for _, p := range res.Permissions {
		if p.Decision != policy.Allow && p.Decision != policy.DelegatedToIAM {
			fmt.Fprintf(w, "%s: %s\n", p.Action, p.Reason)
			explained = true
		}
	}
	if explained {
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tVERDICT\tLACKS\tUNDECIDED")
	for _, pr := range res.Principals {
		name := pr.Principal
		if !strings.HasPrefix(name, "arn:") {
			name = "other principals of " + name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, pr.Verdict, orDash(pr.Missing), orDash(pr.Undecided))
	}
	if res.MorePrincipals > 0 {
		fmt.Fprintf(tw, "(and %d more)\t\t\t\n", res.MorePrincipals)
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch res.Verdict {
	case policy.VerdictUsable:
		fmt.Fprintln(w, "usable via FSx: yes: "+res.Summary)
	case policy.VerdictUndecided:
		fmt.Fprintln(w, "usable via FSx: undecided: "+res.Summary)
	default:
		fmt.Fprintln(w, "usable via FSx: no: "+res.Summary)
	}
}

func orDash(list []string) string {
	if len(list) == 0 {
		return "-"
	}
	return strings.Join(list, ", ")
}
