package fsxkms_test

// This file checks template.yaml, the SAM template users deploy with
// `sam build && sam deploy`. Nobody can deploy it from here, so the test
// asserts what would otherwise only show up in AWS: every function builds
// through the Makefile, the EventBridge rules match the event names the
// decoder handles, every reference resolves, the IAM statements stay
// read-only on KMS and FSx, alerts and failures are encrypted and kept (the
// failure queue survives stack deletion), the alert state table has package
// state's schema, is encrypted, recoverable and kept, and is the only thing
// the functions may read and write in DynamoDB, only the functions and this
// account's CloudWatch may publish alerts, the resource policies bind
// AWS services to this account or to exact ARNs, and the Security Hub
// export and the event bus are off by default, their permissions granted
// only when on (securityhub:BatchImportFindings on the account's default
// product, events:PutEvents on that bus). Deployment "central" (issue 14)
// adds, only under the Central condition (single mode creates exactly what
// it did before): the organization's bus, whose policy accepts
// events:PutEvents only from the organization (aws:PrincipalOrgID), with
// the same two rules as the default bus; the sweep queue and its
// dead-letter queue; sweep-worker, on that queue with batch size 1 and a
// maximum concurrency; sts:AssumeRole on the read role's name only, in the
// organization (aws:ResourceOrgID), for kms-events and sweep-worker; and
// the functions' roles get predictable names, output for the member
// template's trust (org_member_test.go checks org/member.yaml). cfn-lint
// (make lint, make test) checks the rest against the CloudFormation and SAM
// specifications.
//
// The template is read twice:
//   - as JSON with its intrinsic functions kept ({"Ref": ...}), which the
//     checks walk (goformation's intrinsics.ProcessYAML with NoProcess);
//   - by goformation's typed parser, which rejects unknown top-level
//     properties of a resource (a typo such as "Timout").
//
// TestTemplateChecksFail runs the same checks on broken copies of the
// template (testdata/template-mutations.yaml) and requires each defect to
// be reported.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"gopkg.in/yaml.v3"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Logical IDs and names the checks rely on.
const (
	alertTopic       = "AlertTopic"            // AWS::SNS::Topic, created unless ExistingAlertTopicArn is set
	existingTopicArn = "ExistingAlertTopicArn" // parameter naming a topic to use instead
	failureQueue     = "FailureQueue"          // AWS::SQS::Queue holding events that could not be judged
	stateTable       = "StateTable"            // AWS::DynamoDB::Table holding the alert state (STATE_TABLE)
	sweepFunction    = "SweepFunction"
	kmsEventsFn      = "KmsEventsFunction"
	sweepWorkerFn    = "SweepWorkerFunction"  // central mode: judges one account and Region per work item
	sweepQueue       = "SweepQueue"           // central mode: the sweep's work items
	orgEventBus      = "OrgEventBus"          // central mode: the bus member accounts put their KMS events on
	central          = "Central"              // condition: parameter Deployment is "central"
	centralLists     = "CentralListsAccounts" // condition: Central and MemberAccounts empty
	// readRoleARN is the only role the central functions may assume: the
	// member accounts' read role, by name, in any account (of the
	// organization: aws:ResourceOrgID).
	readRoleARN   = "arn:${AWS::Partition}:iam::*:role/${ReadRoleName}"
	serverlessFn  = "AWS::Serverless::Function"
	samTransform  = "AWS::Serverless-2016-10-31"
	cloudTrailAPI = "AWS API Call via CloudTrail"
	cloudTrailSvc = "AWS Service Event via CloudTrail"
	securityHubOn = "SecurityHubOn" // condition: parameter SecurityHub is "on"
	hasEventBus   = "HasEventBus"   // condition: parameter EventBusArn is set
	eventBusArn   = "EventBusArn"   // parameter naming the bus alerts are also put on
	// defaultProduct is the Security Hub product fsxkms imports as: the
	// account's own (pkg/securityhub's Product.ARN).
	defaultProduct = "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"
)

// allowedActions are the only IAM actions a statement may allow. KMS is
// read-only; sns:Publish, sqs:SendMessage and the DynamoDB actions are
// further limited to the alert topic, the failure queue (or, for the sweep
// in central mode, the sweep queue) and the state table by checkIAM, the
// logs actions to the function's own log group, and the central mode's
// actions to their resources, functions and conditions.
var allowedActions = append([]string{
	"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants", "kms:ListAliases", "kms:ListResourceTags",
	"fsx:DescribeFileSystems", "fsx:DescribeBackups", "fsx:DescribeFileCaches",
	"sns:Publish",
	"sqs:SendMessage",
	"securityhub:BatchImportFindings",
	"events:PutEvents",
	"logs:CreateLogStream", "logs:PutLogEvents",
	"sts:AssumeRole", "organizations:ListAccounts",
}, append(stateActions, pollActions...)...)

// pollActions are what an SQS event source mapping needs of its queue
// (Lambda's SQS poller): sweep-worker's, on the sweep queue only.
var pollActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

// readActions are the reads of the account a function judges: a function
// that judges keys (kms-events, sweep, sweep-worker) must be allowed them
// all, and the member accounts' read role exactly these
// (org_member_test.go).
var readActions = append([]string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants", "kms:ListAliases"}, inventoryActions...)

// stateActions are what each function does with its alert state (package
// state's store), exactly: checkState wants every function allowed all of
// them, on the state table's ARN only (no Scan, no index, no other table).
var stateActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}

// inventoryActions are the FSx calls that list every resource carrying a KMS
// key (pkg/inventory): a function that may make one must be allowed all,
// or its inventory fails.
var inventoryActions = []string{"fsx:DescribeFileSystems", "fsx:DescribeBackups", "fsx:DescribeFileCaches"}

// tmpl is template.yaml as the checks see it.
type tmpl struct {
	raw      map[string]any           // intrinsics kept as {"Ref": ...}, {"Fn::GetAtt": ...}
	typed    *cloudformation.Template // goformation's parse, intrinsics resolved
	dir      string                   // directory CodeUri paths are relative to
	makefile string                   // text of the Makefile SAM's BuildMethod makefile runs
}

// loadTemplate parses a template. dir is where CodeUri paths resolve and the
// Makefile is read from.
func loadTemplate(data []byte, dir string) (*tmpl, error) {
	data, err := longFormConditions(data)
	if err != nil {
		return nil, err
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	t := &tmpl{dir: dir}
	if err := json.Unmarshal(js, &t.raw); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if t.typed, err = parseTyped(t.raw); err != nil {
		return nil, err
	}
	mk, err := os.ReadFile(filepath.Join(dir, "Makefile"))
	if err != nil {
		return nil, fmt.Errorf("makefile: %w", err)
	}
	t.makefile = string(mk)
	return t, nil
}

// longFormConditions rewrites `!Condition Name` as {Condition: Name}.
// goformation knows the other short forms (!Ref, !If, ...) but not this one,
// and would otherwise turn it into a plain string.
func longFormConditions(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Tag == "!Condition" && n.Kind == yaml.ScalarNode {
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "Condition"},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: n.Value},
			}}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return yaml.Marshal(&doc)
}

// parseTyped runs goformation's typed parser, which rejects unknown
// top-level resource properties. Two adjustments keep it to what
// CloudFormation accepts:
//   - goformation v7.14.9's SAM spec predates Function LoggingConfig (SAM,
//     November 2023), so that property is removed first (checkFunctions reads
//     it from the raw template);
//   - goformation resolves a Ref to a Number parameter as a number, which
//     cannot go in an environment variable; CloudFormation passes it as a
//     string, which Fn::Sub also gives.
func parseTyped(raw map[string]any) (*cloudformation.Template, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var cp map[string]any
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, err
	}
	params := asMap(cp["Parameters"])
	for _, r := range asMap(cp["Resources"]) {
		if str(get(r, "Type")) != serverlessFn {
			continue
		}
		props := asMap(get(r, "Properties"))
		delete(props, "LoggingConfig")
		for k, v := range asMap(get(props, "Environment", "Variables")) {
			if p, ok := refName(v); ok && str(get(params, p, "Type")) == "Number" {
				asMap(get(props, "Environment", "Variables"))[k] = map[string]any{"Fn::Sub": "${" + p + "}"}
			}
		}
	}
	b, err = json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	typed, err := goformation.ParseJSON(b)
	if err == nil {
		return typed, nil
	}
	// goformation's error does not say which resource; parse them one by one.
	for _, name := range sortedKeys(asMap(cp["Resources"])) {
		one := maps.Clone(cp)
		one["Resources"] = map[string]any{name: asMap(cp["Resources"])[name]}
		b, _ := json.Marshal(one)
		if _, err1 := goformation.ParseJSON(b); err1 != nil {
			return nil, fmt.Errorf("template: Resources.%s: %w", name, err1)
		}
	}
	return nil, fmt.Errorf("template: %w", err)
}

// A check returns the problems it finds, each naming where it is.
type check func(t *tmpl) []string

var checks = []struct {
	name string
	fn   check
}{
	{"Transform", checkTransform},
	{"Functions", checkFunctions},
	{"Rules", checkRules},
	{"References", checkReferences},
	{"IAM", checkIAM},
	{"Encryption", checkEncryption},
	{"LogGroups", checkLogGroups},
	{"Sweep", checkSweep},
	{"Parameters", checkParameters},
	{"Outputs", checkOutputs},
	{"TopicPolicy", checkTopicPolicy},
	{"ServicePrincipals", checkServicePrincipals},
	{"QueuePolicy", checkQueuePolicy},
	{"Retain", checkRetain},
	{"State", checkState},
	{"Outputs to Security Hub and EventBridge", checkIntegrations},
	{"Central deployment", checkCentral},
}

func TestTemplate(t *testing.T) {
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := loadTemplate(data, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(tpl) {
				t.Error(p)
			}
		})
	}
}

// allProblems runs every check; a template that does not load is one problem.
func allProblems(data []byte, dir string) []string {
	tpl, err := loadTemplate(data, dir)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range checks {
		out = append(out, c.fn(tpl)...)
	}
	return out
}

// TestTemplateChecksFail shows that the checks can fail: each broken copy of
// template.yaml in testdata/template-mutations.yaml must be reported with
// the given text.
func TestTemplateChecksFail(t *testing.T) {
	orig, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	problems := func(data []byte) []string { return allProblems(data, ".") }
	testMutations(t, "template.yaml", orig, problems, "testdata/template-mutations.yaml")
}

// mutation is a broken copy of a template, for testMutations: the first
// occurrence of Old in the template replaced by New, which the checks must
// report with a problem that contains Want.
type mutation struct {
	Name string `yaml:"name"`
	Old  string `yaml:"old"`
	New  string `yaml:"new"`
	Want string `yaml:"want"`
}

// readMutations reads the mutations in the YAML file path, a list of
// entries with the fields name, old, new and want, for testMutations. It
// fails the test on an unknown field, an entry without a name or an old, and
// a name used twice.
func readMutations(t *testing.T, path string) []mutation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var ms []mutation
	if err := dec.Decode(&ms); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	seen := map[string]bool{}
	for i, m := range ms {
		switch {
		case m.Name == "":
			t.Fatalf("%s: entry %d has no name", path, i+1)
		case m.Old == "":
			t.Fatalf("%s: %q has no old", path, m.Name)
		case seen[m.Name]:
			t.Fatalf("%s: two entries named %q", path, m.Name)
		}
		seen[m.Name] = true
	}
	return ms
}

// testMutations shows that a template's checks can fail: problems, which
// runs them, must find nothing in orig, the template at path, and in each
// mutation of it (read from the file mutations) a problem that contains the
// mutation's Want.
func testMutations(t *testing.T, path string, orig []byte, problems func([]byte) []string, mutations string) {
	t.Helper()
	if p := problems(orig); len(p) > 0 {
		t.Fatalf("%s itself has problems (the test of it unbroken says which): %q", path, p)
	}
	for _, tt := range readMutations(t, mutations) {
		t.Run(tt.Name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(tt.Old)) {
				t.Fatalf("%s no longer contains %q; update this broken copy in %s", path, tt.Old, mutations)
			}
			got := problems(bytes.Replace(orig, []byte(tt.Old), []byte(tt.New), 1))
			for _, p := range got {
				if strings.Contains(p, tt.Want) {
					t.Logf("reported: %s", p)
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", tt.Want, got)
		})
	}
}

func checkTransform(t *tmpl) []string {
	tr := t.typed.Transform
	if tr == nil || tr.String == nil || *tr.String != samTransform {
		return []string{fmt.Sprintf("Transform: want %s", samTransform)}
	}
	return nil
}

// functions returns the logical IDs of the SAM functions, sorted.
func (t *tmpl) functions() []string {
	var ids []string
	for id, r := range asMap(t.raw["Resources"]) {
		if str(get(r, "Type")) == serverlessFn {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// fnRole is the logical ID of a function's role: the AWS::IAM::Role its
// Role names (!GetAtt <Role>.Arn), or the <Function>Role SAM generates.
func (t *tmpl) fnRole(id string) string {
	if r, ok := getAttArns(get(t.raw, "Resources", id, "Properties", "Role")); ok && len(r) == 1 {
		return r[0]
	}
	return id + "Role"
}

// fnEnv is a function's environment: Globals' variables and its own.
func (t *tmpl) fnEnv(id string) map[string]any {
	env := map[string]any{}
	for _, src := range []any{get(t.raw, "Globals", "Function"), get(t.raw, "Resources", id, "Properties")} {
		maps.Copy(env, asMap(get(src, "Environment", "Variables")))
	}
	return env
}

// fnStatements are the IAM statements that apply to a function: its
// Policies, or its role's.
func (t *tmpl) fnStatements(id string, sts []statement) []statement {
	var out []statement
	for _, st := range sts {
		if st.owner == id || st.owner == t.fnRole(id) {
			out = append(out, st)
		}
	}
	return out
}

// fnOfRole returns the functions whose role is role.
func (t *tmpl) fnOfRole(role string) []string {
	var out []string
	for _, id := range t.functions() {
		if t.fnRole(id) == role || id == role {
			out = append(out, id)
		}
	}
	return out
}

// sqsOnly reports whether every event of a function is an SQS queue's (an
// event source mapping, which invokes synchronously: no OnFailure
// destination applies; the queue's RedrivePolicy does).
func (t *tmpl) sqsOnly(id string) bool {
	evs := asMap(t.fnProp(id, "Events"))
	for _, ev := range evs {
		if str(get(ev, "Type")) != "SQS" {
			return false
		}
	}
	return len(evs) > 0
}

// implies reports whether the active conditions imply condition c (c is
// one of them, or a part of an Fn::And of one, recursively).
func (t *tmpl) implies(active []string, c string) bool {
	w := refWalker{conditions: asMap(t.raw["Conditions"])}
	return c == "" || w.implied(active, c, 0)
}

// fnProp is a function property, or the Globals value SAM would use.
func (t *tmpl) fnProp(id, name string) any {
	if v, ok := asMap(get(t.raw, "Resources", id, "Properties"))[name]; ok {
		return v
	}
	return get(t.raw, "Globals", "Function", name)
}

// makeTarget returns the recipe of a Makefile target and whether it exists.
func (t *tmpl) makeTarget(name string) (string, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:.*\n((?:\t.*\n?)*)`)
	m := re.FindStringSubmatch(t.makefile)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func checkFunctions(t *tmpl) []string {
	var out []string
	bad := func(id, format string, args ...any) {
		out = append(out, fmt.Sprintf("Resources.%s: ", id)+fmt.Sprintf(format, args...))
	}
	ids := t.functions()
	if len(ids) == 0 {
		return []string{"Resources: no " + serverlessFn}
	}
	for _, id := range ids {
		if v := str(t.fnProp(id, "Runtime")); v != "provided.al2023" {
			bad(id, "Runtime is %q, want provided.al2023", v)
		}
		if v := t.fnProp(id, "Architectures"); !equalJSON(v, []any{"arm64"}) {
			bad(id, "Architectures is %v, want [arm64]", v)
		}
		if v := str(t.fnProp(id, "Handler")); v != "bootstrap" {
			bad(id, "Handler is %q, want bootstrap", v)
		}
		if v := str(get(t.raw, "Resources", id, "Metadata", "BuildMethod")); v != "makefile" {
			bad(id, "Metadata.BuildMethod is %q, want makefile", v)
		}
		if role := get(t.raw, "Resources", id, "Properties", "Role"); role != nil {
			r, ok := getAttArns(role)
			switch {
			case !ok || len(r) != 1 || str(get(t.raw, "Resources", r[0], "Type")) != "AWS::IAM::Role":
				bad(id, "Role is %s; want !GetAtt <Role>.Arn of an AWS::IAM::Role of this template, whose policies the checks read", compact(role))
			case str(get(t.raw, "Resources", r[0], "Condition")) != str(get(t.raw, "Resources", id, "Condition")):
				bad(id, "its role %s has Condition %q, the function %q", r[0], str(get(t.raw, "Resources", r[0], "Condition")), str(get(t.raw, "Resources", id, "Condition")))
			default:
				trust := get(t.raw, "Resources", r[0], "Properties", "AssumeRolePolicyDocument")
				want := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}}}
				if !equalJSON(trust, want) {
					bad(id, "its role %s must be trusted by lambda.amazonaws.com only; AssumeRolePolicyDocument is %s", r[0], compact(trust))
				}
			}
		}
		code := str(t.fnProp(id, "CodeUri"))
		if fi, err := os.Stat(filepath.Join(t.dir, code)); code == "" || err != nil || !fi.IsDir() {
			bad(id, "CodeUri %q is not a directory next to the template", code)
		}
		target := "build-" + id
		if recipe, ok := t.makeTarget(target); !ok {
			bad(id, "the Makefile has no %s: target (BuildMethod makefile runs it)", target)
		} else if !strings.Contains(recipe, "$(ARTIFACTS_DIR)/bootstrap") || !strings.Contains(recipe, "GOARCH=arm64") {
			bad(id, "Makefile target %s must build GOARCH=arm64 into $(ARTIFACTS_DIR)/bootstrap", target)
		}
		if v := str(get(t.fnProp(id, "LoggingConfig"), "LogFormat")); v != "JSON" {
			bad(id, "LoggingConfig.LogFormat is %q, want JSON", v)
		}
		if g, ok := refName(get(t.fnProp(id, "LoggingConfig"), "LogGroup")); !ok || str(get(t.raw, "Resources", g, "Type")) != "AWS::Logs::LogGroup" {
			bad(id, "LoggingConfig.LogGroup must Ref an AWS::Logs::LogGroup of this template (for its retention)")
		}
		if t.sqsOnly(id) {
			// Invoked by its queue's event source mapping: a failed message
			// goes back to the queue, then to the queue's dead-letter queue.
			for name, ev := range asMap(t.fnProp(id, "Events")) {
				q, ok := getAttArns(get(ev, "Properties", "Queue"))
				if !ok || len(q) != 1 || str(get(t.raw, "Resources", q[0], "Type")) != "AWS::SQS::Queue" {
					bad(id, "Events.%s.Properties.Queue must be !GetAtt <Queue>.Arn of this template's queue; got %s", name, compact(get(ev, "Properties", "Queue")))
					continue
				}
				dlq, ok := getAttArns(get(t.raw, "Resources", q[0], "Properties", "RedrivePolicy", "deadLetterTargetArn"))
				if !ok || len(dlq) != 1 || str(get(t.raw, "Resources", dlq[0], "Type")) != "AWS::SQS::Queue" {
					bad(id, "Resources.%s.Properties.RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn of a dead-letter queue: a work item that keeps failing would otherwise be retried until it expires, unseen", q[0])
				}
			}
		} else {
			dest := get(t.fnProp(id, "EventInvokeConfig"), "DestinationConfig", "OnFailure")
			if str(get(dest, "Type")) != "SQS" || !isGetAtt(get(dest, "Destination"), failureQueue, "Arn") {
				bad(id, "EventInvokeConfig.DestinationConfig.OnFailure must be Type SQS, Destination !GetAtt %s.Arn; got %s", failureQueue, compact(dest))
			}
		}
		env := t.fnEnv(id)
		for name, param := range map[string]string{"MIN_SEVERITY": "MinSeverity", "FSX_KEY_ARNS": "FsxKeyArns", "FSX_DISCOVERY": "FsxDiscovery"} {
			if p, _ := refName(env[name]); p != param {
				bad(id, "environment variable %s must be !Ref %s", name, param)
			}
		}
		if !isAlertTopic(env["ALERT_TOPIC_ARN"]) {
			bad(id, "environment variable ALERT_TOPIC_ARN must name the alert topic")
		}
		for name, ev := range asMap(t.fnProp(id, "Events")) {
			if typ := str(get(ev, "Type")); typ == "EventBridgeRule" || typ == "Schedule" {
				if dl := get(ev, "Properties", "DeadLetterConfig"); dl != nil && !isGetAtt(get(dl, "Arn"), failureQueue, "Arn") {
					bad(id, "Events.%s.Properties.DeadLetterConfig.Arn must be !GetAtt %s.Arn", name, failureQueue)
				}
			}
		}
	}
	return out
}

// pattern is an EventBridge rule pattern found in the template, and the
// bus its rule is on ("default", or "Ref:<logical id>" of the template's
// bus).
type pattern struct {
	where string
	p     map[string]any
	bus   string
}

func (t *tmpl) patterns() []pattern {
	var out []pattern
	busOf := func(v any) string {
		if v == nil || equalJSON(v, "default") {
			return "default"
		}
		if r, ok := refName(v); ok {
			return "Ref:" + r
		}
		return compact(v)
	}
	for _, id := range sortedKeys(asMap(t.raw["Resources"])) {
		r := asMap(t.raw["Resources"])[id]
		switch str(get(r, "Type")) {
		case serverlessFn:
			evs := asMap(get(r, "Properties", "Events"))
			for _, name := range sortedKeys(evs) {
				if typ := str(get(evs[name], "Type")); typ == "EventBridgeRule" || typ == "CloudWatchEvent" {
					out = append(out, pattern{fmt.Sprintf("Resources.%s.Properties.Events.%s.Properties.Pattern", id, name), asMap(get(evs[name], "Properties", "Pattern")), busOf(get(evs[name], "Properties", "EventBusName"))})
				}
			}
		case "AWS::Events::Rule":
			if get(r, "Properties", "ScheduleExpression") != nil && get(r, "Properties", "EventPattern") == nil {
				continue
			}
			out = append(out, pattern{fmt.Sprintf("Resources.%s.Properties.EventPattern", id), asMap(get(r, "Properties", "EventPattern")), busOf(get(r, "Properties", "EventBusName"))})
		}
	}
	return out
}

// checkRules requires, on each bus with rules (the default bus; in central
// mode also the organization's), one rule for the KMS CloudTrail events
// whose event names are exactly the decoder's table, and one for KMS's own
// events whose detail-types are exactly the decoder's; the rules of a kind
// have equal patterns on every bus.
func checkRules(t *tmpl) []string {
	return checkPatterns(t.patterns())
}

// checkPatterns is checkRules on a list of patterns (one template's, or
// both templates' for org_member_test.go).
func checkPatterns(patterns []pattern) []string {
	var out []string
	cloudTrail, native := map[string]int{}, map[string]int{}
	var buses []string
	var firstCT, firstNative *pattern
	for _, p := range patterns {
		if !slices.Contains(buses, p.bus) {
			buses = append(buses, p.bus)
		}
		if !equalJSON(p.p["source"], []any{"aws.kms"}) {
			out = append(out, fmt.Sprintf("%s: source is %s, want [\"aws.kms\"]", p.where, compact(p.p["source"])))
			continue
		}
		types := strs(p.p["detail-type"])
		first := &firstNative
		if slices.Contains(types, cloudTrailAPI) || slices.Contains(types, cloudTrailSvc) {
			cloudTrail[p.bus]++
			first = &firstCT
			out = append(out, sameSet(p.where+".detail-type", types, []string{cloudTrailAPI, cloudTrailSvc})...)
			if !equalJSON(get(p.p, "detail", "eventSource"), []any{"kms.amazonaws.com"}) {
				out = append(out, fmt.Sprintf("%s.detail.eventSource is %s, want [\"kms.amazonaws.com\"]", p.where, compact(get(p.p, "detail", "eventSource"))))
			}
			out = append(out, sameSet(p.where+".detail.eventName", strs(get(p.p, "detail", "eventName")), kmsevent.RelevantEventNames())...)
		} else {
			native[p.bus]++
			out = append(out, sameSet(p.where+".detail-type", types, kmsevent.NativeDetailTypes())...)
		}
		if *first == nil {
			*first = &p
		} else if !equalJSON(p.p, (*first).p) {
			out = append(out, fmt.Sprintf("%s is %s; it differs from %s, %s (one source of truth: the decoder's table)", p.where, compact(p.p), (*first).where, compact((*first).p)))
		}
	}
	if len(buses) == 0 {
		buses = []string{"default"}
	}
	for _, bus := range buses {
		if n := cloudTrail[bus]; n != 1 {
			out = append(out, fmt.Sprintf("want one rule for %q on bus %s, found %d", cloudTrailAPI, bus, n))
		}
		if n := native[bus]; n != 1 {
			out = append(out, fmt.Sprintf("want one rule for the native KMS events on bus %s, found %d", bus, n))
		}
	}
	return out
}

// sameSet reports names missing from got and extra in got, compared to want.
func sameSet(where string, got, want []string) []string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	var out []string
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%s: missing %v", where, missing))
	}
	if len(extra) > 0 {
		out = append(out, fmt.Sprintf("%s: extra %v", where, extra))
	}
	return out
}

// checkReferences walks every Ref, Fn::GetAtt, Fn::Sub, Fn::If, Condition,
// Fn::FindInMap and DependsOn and requires its target to exist. A reference
// to a resource with a Condition must be under that condition: in a resource
// or output with it (or with an Fn::And that includes it), or in the true
// branch of an Fn::If on it.
func checkReferences(t *tmpl) []string {
	w := refWalker{
		params:     asMap(t.raw["Parameters"]),
		resources:  t.samResources(),
		conditions: asMap(t.raw["Conditions"]),
		mappings:   asMap(t.raw["Mappings"]),
	}
	for _, name := range sortedKeys(w.conditions) {
		w.walk("Conditions."+name, w.conditions[name], nil, true)
	}
	w.walk("Globals", t.raw["Globals"], nil, false)
	for _, section := range []string{"Resources", "Outputs"} {
		items := asMap(t.raw[section])
		for _, id := range sortedKeys(items) {
			var active []string
			if c, ok := asMap(items[id])["Condition"]; ok {
				w.condRef(fmt.Sprintf("%s.%s.Condition", section, id), c)
				active = []string{str(c)}
			}
			for _, d := range anyList(get(items[id], "DependsOn")) {
				if _, ok := w.resources[str(d)]; !ok {
					w.bad("%s.%s.DependsOn: no resource %q", section, id, str(d))
				}
			}
			w.walk(section+"."+id, items[id], active, false)
		}
	}
	return w.out
}

type refWalker struct {
	params, resources, conditions, mappings map[string]any
	out                                     []string
}

func (w *refWalker) bad(format string, args ...any) {
	w.out = append(w.out, fmt.Sprintf(format, args...))
}

func (w *refWalker) condRef(where string, c any) {
	if _, ok := w.conditions[str(c)]; !ok {
		w.bad("%s: no condition %q", where, str(c))
	}
}

// target checks a reference to name; getAtt says it needs a resource.
func (w *refWalker) target(where, kind, name string, getAtt bool, active []string, inConditions bool) {
	if strings.HasPrefix(name, "AWS::") && !getAtt {
		return // pseudo parameter
	}
	if _, ok := w.params[name]; ok && !getAtt {
		return
	}
	r, ok := w.resources[name]
	switch {
	case inConditions:
		w.bad("%s: %s refers to %q; Conditions may only use parameters", where, kind, name)
	case !ok && getAtt:
		w.bad("%s: %s refers to %q, which is not a resource", where, kind, name)
	case !ok:
		w.bad("%s: %s refers to %q, which is not a parameter or resource", where, kind, name)
	default:
		if c := str(get(r, "Condition")); c != "" && !w.implied(active, c, 0) {
			w.bad("%s: %s refers to %q, which only exists if %s; use !If [%s, ...]", where, kind, name, c, c)
		}
	}
}

// implied reports whether the active conditions imply condition c.
func (w *refWalker) implied(active []string, c string, depth int) bool {
	for _, a := range active {
		if a == c {
			return true
		}
		if depth < 8 {
			for _, part := range anyList(get(w.conditions[a], "Fn::And")) {
				if sub, ok := asMap(part)["Condition"]; ok && w.implied([]string{str(sub)}, c, depth+1) {
					return true
				}
			}
		}
	}
	return false
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (w *refWalker) walk(where string, v any, active []string, inConditions bool) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			w.walk(fmt.Sprintf("%s[%d]", where, i), e, active, inConditions)
		}
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				switch fn {
				case "Ref":
					w.target(where, "Ref", str(arg), false, active, inConditions)
					return
				case "Fn::GetAtt":
					res := str(arg)
					if l := anyList(arg); len(l) == 2 {
						res = str(l[0])
					} else {
						res, _, _ = strings.Cut(res, ".")
					}
					w.target(where, "GetAtt", res, true, active, inConditions)
					return
				case "Fn::Sub":
					s, vars := str(arg), map[string]any{}
					if l := anyList(arg); len(l) == 2 {
						s, vars = str(l[0]), asMap(l[1])
						w.walk(where+".Fn::Sub[1]", l[1], active, inConditions)
					}
					for _, m := range subVar.FindAllStringSubmatch(s, -1) {
						name, attr, _ := strings.Cut(m[1], ".")
						if _, local := vars[m[1]]; local {
							continue
						}
						w.target(where, "Sub \"${"+m[1]+"}\"", name, attr != "" && !strings.HasPrefix(name, "AWS::"), active, inConditions)
					}
					return
				case "Fn::If":
					l := anyList(arg)
					if len(l) != 3 {
						w.bad("%s: Fn::If wants [condition, then, else]", where)
						return
					}
					w.condRef(where+".Fn::If[0]", l[0])
					w.walk(where+".Fn::If[1]", l[1], append(slices.Clone(active), str(l[0])), inConditions)
					w.walk(where+".Fn::If[2]", l[2], active, inConditions)
					return
				case "Condition":
					if _, ok := arg.(string); ok {
						w.condRef(where, arg)
						return
					}
				case "Fn::FindInMap":
					if l := anyList(arg); len(l) > 0 {
						if _, ok := w.mappings[str(l[0])]; !ok {
							w.bad("%s: FindInMap of mapping %q, which does not exist", where, str(l[0]))
						}
					}
				}
			}
		}
		for _, k := range sortedKeys(v) {
			w.walk(where+"."+k, v[k], active, inConditions)
		}
	}
}

// statement is one IAM policy statement and where it is; cond is the
// condition of the Fn::If it is the true branch of, if any. For identity
// policies, owner is the logical ID of the function, role or policy it is
// in, and ownerCond that resource's Condition.
type statement struct {
	where     string
	s         map[string]any
	cond      string
	owner     string
	ownerCond string
}

// active are the conditions under which the statement exists.
func (st statement) active() []string {
	var out []string
	for _, c := range []string{st.cond, st.ownerCond} {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// iamStatements collects the statements of identity policies: function
// Policies and AWS::IAM::Role/Policy/ManagedPolicy. Resource policies (key,
// queue, topic policies) and trust policies are not IAM grants to fsxkms.
// Managed policies and SAM policy templates cannot be checked and are
// reported.
func (t *tmpl) iamStatements() ([]statement, []string) {
	var out []statement
	var problems []string
	var id, idCond string // the resource being read
	addDoc := func(where string, doc any) {
		sts := get(doc, "Statement")
		if m, ok := sts.(map[string]any); ok {
			sts = []any{m}
		}
		for i, s := range anyList(sts) {
			w := fmt.Sprintf("%s.Statement[%d]", where, i)
			// A statement under !If [Condition, statement, !Ref AWS::NoValue]
			// exists only with the condition.
			if l := anyList(get(s, "Fn::If")); len(l) == 3 && len(asMap(s)) == 1 {
				out = append(out, statement{w + ".Fn::If[1]", asMap(l[1]), str(l[0]), id, idCond})
				if r, _ := refName(l[2]); r != "AWS::NoValue" {
					out = append(out, statement{w + ".Fn::If[2]", asMap(l[2]), "", id, idCond})
				}
				continue
			}
			out = append(out, statement{w, asMap(s), "", id, idCond})
		}
	}
	res := asMap(t.raw["Resources"])
	for _, rid := range sortedKeys(res) {
		id = rid
		r := res[id]
		idCond = str(get(r, "Condition"))
		where := "Resources." + id + ".Properties"
		switch str(get(r, "Type")) {
		case serverlessFn:
			pol := get(r, "Properties", "Policies")
			if _, ok := pol.([]any); !ok && pol != nil {
				pol = []any{pol}
			}
			for i, p := range anyList(pol) {
				w := fmt.Sprintf("%s.Policies[%d]", where, i)
				if get(p, "Statement") != nil {
					addDoc(w, p)
				} else {
					problems = append(problems, fmt.Sprintf("%s: %s cannot be checked (managed policy or SAM policy template); write the statements out", w, compact(p)))
				}
			}
		case "AWS::IAM::Role":
			for i, p := range anyList(get(r, "Properties", "Policies")) {
				w := fmt.Sprintf("%s.Policies[%d]", where, i)
				if get(p, "PolicyDocument", "Statement") != nil {
					addDoc(w+".PolicyDocument", get(p, "PolicyDocument"))
				} else {
					problems = append(problems, fmt.Sprintf("%s: %s cannot be checked (not a PolicyName and PolicyDocument with its Statement); write the statements out", w, compact(p)))
				}
			}
			if m := get(r, "Properties", "ManagedPolicyArns"); m != nil {
				problems = append(problems, fmt.Sprintf("%s.ManagedPolicyArns: %s cannot be checked", where, compact(m)))
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			addDoc(where+".PolicyDocument", get(r, "Properties", "PolicyDocument"))
		}
	}
	return out, problems
}

func checkIAM(t *tmpl) []string {
	sts, out := t.iamStatements()
	if len(sts) == 0 {
		out = append(out, "no IAM statement found: functions need their Policies written out")
	}
	out = append(out, checkInventoryActions(sts)...)
	for _, st := range sts {
		if str(st.s["Effect"]) != "Allow" {
			continue
		}
		if _, ok := st.s["NotAction"]; ok {
			out = append(out, st.where+": NotAction allows everything else; list actions instead")
		}
		if _, ok := st.s["NotResource"]; ok {
			out = append(out, st.where+": NotResource cannot be checked; list resources instead")
		}
		acts := st.s["Action"]
		if _, ok := acts.(string); ok {
			acts = []any{acts}
		}
		for _, a := range anyList(acts) {
			action, ok := a.(string)
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s.Action: %s is not a plain action name", st.where, compact(a)))
			case strings.ContainsAny(action, "*?"):
				out = append(out, fmt.Sprintf("%s.Action: %q is a wildcard", st.where, action))
			case !slices.ContainsFunc(allowedActions, func(x string) bool { return strings.EqualFold(x, action) }):
				out = append(out, fmt.Sprintf("%s.Action: %q is not allowed; fsxkms may only %v (read-only on KMS)", st.where, action, allowedActions))
			case strings.EqualFold(action, "sns:Publish") && !isAlertTopic(st.s["Resource"]):
				out = append(out, fmt.Sprintf("%s: sns:Publish must be limited to the alert topic (!Ref %s or %s); Resource is %s", st.where, alertTopic, existingTopicArn, compact(st.s["Resource"])))
			case strings.EqualFold(action, "sqs:SendMessage") && !isGetAtt(st.s["Resource"], failureQueue, "Arn") && !t.queuesSweeps(st):
				out = append(out, fmt.Sprintf("%s: sqs:SendMessage must be limited to the failure queue (!GetAtt %s.Arn), or for the sweep's role in central mode to the sweep queue (!GetAtt %s.Arn under !If [%s, ...]); Resource is %s", st.where, failureQueue, sweepQueue, central, compact(st.s["Resource"])))
			case slices.ContainsFunc(pollActions, func(x string) bool { return strings.EqualFold(x, action) }) && (!isGetAtt(st.s["Resource"], sweepQueue, "Arn") || !slices.Equal(t.fnOfRole(st.owner), []string{sweepWorkerFn})):
				out = append(out, fmt.Sprintf("%s: %s must be %s's only (its SQS event source), on the sweep queue only (!GetAtt %s.Arn); in %s for %v, Resource %s", st.where, action, sweepWorkerFn, sweepQueue, st.owner, t.fnOfRole(st.owner), compact(st.s["Resource"])))
			case strings.HasPrefix(strings.ToLower(action), "logs:") && !t.ownLogGroup(st):
				out = append(out, fmt.Sprintf("%s: %s must be limited to the log group of the function whose role this is (!GetAtt <its LoggingConfig.LogGroup>.Arn); in %s for %v, Resource %s", st.where, action, st.owner, t.fnOfRole(st.owner), compact(st.s["Resource"])))
			case strings.EqualFold(action, "sts:AssumeRole"):
				out = append(out, t.assumeProblems(st)...)
			case strings.EqualFold(action, "organizations:ListAccounts") && (st.cond != centralLists || !equalJSON(st.s["Resource"], "*") || !slices.Equal(t.fnOfRole(st.owner), []string{sweepFunction})):
				out = append(out, fmt.Sprintf("%s: organizations:ListAccounts must be the sweep's only, under !If [%s, ...] (central mode with MemberAccounts empty), on Resource \"*\" (it has no resource-level permission); in %s for %v, condition %q, Resource %s", st.where, centralLists, st.owner, t.fnOfRole(st.owner), st.cond, compact(st.s["Resource"])))
			case strings.HasPrefix(strings.ToLower(action), "dynamodb:") && !isGetAtt(st.s["Resource"], stateTable, "Arn"):
				out = append(out, fmt.Sprintf("%s: %s must be limited to the state table (!GetAtt %s.Arn, no index, no other table); Resource is %s", st.where, action, stateTable, compact(st.s["Resource"])))
			case strings.EqualFold(action, "securityhub:BatchImportFindings") && (st.cond != securityHubOn || str(get(st.s["Resource"], "Fn::Sub")) != defaultProduct):
				out = append(out, fmt.Sprintf("%s: securityhub:BatchImportFindings must be allowed only under !If [%s, ...] and only on the account's default product (!Sub %s); condition %q, Resource %s", st.where, securityHubOn, defaultProduct, st.cond, compact(st.s["Resource"])))
			case strings.EqualFold(action, "events:PutEvents") && (st.cond != hasEventBus || !isRef(st.s["Resource"], eventBusArn)):
				out = append(out, fmt.Sprintf("%s: events:PutEvents must be allowed only under !If [%s, ...] and only on the bus (!Ref %s); condition %q, Resource %s", st.where, hasEventBus, eventBusArn, st.cond, compact(st.s["Resource"])))
			}
		}
	}
	return out
}

// queuesSweeps reports whether st is the sweep's sqs:SendMessage on the
// sweep queue, in central mode.
func (t *tmpl) queuesSweeps(st statement) bool {
	return isGetAtt(st.s["Resource"], sweepQueue, "Arn") && t.implies(st.active(), central) && slices.Equal(t.fnOfRole(st.owner), []string{sweepFunction})
}

// ownLogGroup reports whether st's Resource is the log group of the one
// function whose role (or Policies) st is in.
func (t *tmpl) ownLogGroup(st statement) bool {
	fns := t.fnOfRole(st.owner)
	if len(fns) != 1 {
		return false
	}
	lg, ok := refName(get(t.fnProp(fns[0], "LoggingConfig"), "LogGroup"))
	return ok && isGetAtt(st.s["Resource"], lg, "Arn")
}

// assumeProblems checks a statement allowing sts:AssumeRole: only the
// member accounts' read role, by name (!Sub readRoleARN), only in the
// organization (exactly StringEquals aws:ResourceOrgID: !Ref
// OrganizationId; the role is the resource of AssumeRole), only in central
// mode, and only for kms-events and sweep-worker.
func (t *tmpl) assumeProblems(st statement) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, st.where+": "+fmt.Sprintf(format, args...)) }
	res := oneOrMany(st.s["Resource"])
	if len(res) != 1 || str(get(res[0], "Fn::Sub")) != readRoleARN {
		bad("sts:AssumeRole must be limited to the read role's name (!Sub %s); Resource is %s", readRoleARN, compact(st.s["Resource"]))
	}
	if !t.implies(st.active(), central) {
		bad("sts:AssumeRole must be allowed only under !If [%s, ...] (or in a role with Condition %s); conditions %q", central, central, st.active())
	}
	want := map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": map[string]any{"Ref": "OrganizationId"}}}
	if !equalJSON(st.s["Condition"], want) {
		bad("sts:AssumeRole must have exactly the Condition StringEquals aws:ResourceOrgID: !Ref OrganizationId (roles of the organization only); got %s", compact(st.s["Condition"]))
	}
	fns := t.fnOfRole(st.owner)
	if len(fns) == 0 || slices.ContainsFunc(fns, func(f string) bool { return f != kmsEventsFn && f != sweepWorkerFn }) {
		bad("sts:AssumeRole is for %s and %s only; %s is %v's", kmsEventsFn, sweepWorkerFn, st.owner, fns)
	}
	if st.s["NotResource"] != nil || st.s["NotAction"] != nil {
		bad("sts:AssumeRole with NotResource or NotAction")
	}
	return out
}

// checkInventoryActions wants every resource whose statements allow one of
// inventoryActions to allow all of them.
func checkInventoryActions(sts []statement) []string {
	allowed := map[string][]string{} // resource (Resources.<id>) -> inventory actions allowed
	var order []string
	for _, st := range sts {
		if str(st.s["Effect"]) != "Allow" {
			continue
		}
		owner := st.where
		if parts := strings.SplitN(st.where, ".", 3); len(parts) >= 2 {
			owner = parts[0] + "." + parts[1]
		}
		acts := st.s["Action"]
		if _, ok := acts.(string); ok {
			acts = []any{acts}
		}
		for _, a := range anyList(acts) {
			action, _ := a.(string)
			for _, want := range inventoryActions {
				if strings.EqualFold(action, want) {
					if _, seen := allowed[owner]; !seen {
						order = append(order, owner)
					}
					allowed[owner] = append(allowed[owner], want)
				}
			}
		}
	}
	var out []string
	for _, owner := range order {
		var missing []string
		for _, want := range inventoryActions {
			if !slices.Contains(allowed[owner], want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("%s lists FSx but is not allowed %v: its inventory would fail", owner, missing))
		}
	}
	return out
}

func checkEncryption(t *tmpl) []string {
	var out []string
	topic := get(t.raw, "Resources", alertTopic)
	if str(get(topic, "Type")) != "AWS::SNS::Topic" {
		out = append(out, fmt.Sprintf("Resources.%s: want an AWS::SNS::Topic", alertTopic))
	} else if get(topic, "Properties", "KmsMasterKeyId") == nil {
		out = append(out, fmt.Sprintf("Resources.%s.Properties: no KmsMasterKeyId; the alert topic must be encrypted", alertTopic))
	}
	if q := get(t.raw, "Resources", failureQueue); str(get(q, "Type")) != "AWS::SQS::Queue" {
		out = append(out, fmt.Sprintf("Resources.%s: want an AWS::SQS::Queue", failureQueue))
	}
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		q := res[id]
		if str(get(q, "Type")) == "AWS::SQS::Queue" && get(q, "Properties", "SqsManagedSseEnabled") != true && get(q, "Properties", "KmsMasterKeyId") == nil {
			out = append(out, fmt.Sprintf("Resources.%s.Properties: not encrypted; set SqsManagedSseEnabled: true or KmsMasterKeyId", id))
		}
	}
	return out
}

func checkLogGroups(t *tmpl) []string {
	var out []string
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) == "AWS::Logs::LogGroup" && get(res[id], "Properties", "RetentionInDays") == nil {
			out = append(out, fmt.Sprintf("Resources.%s.Properties: no RetentionInDays; logs would be kept forever", id))
		}
	}
	return out
}

func checkSweep(t *tmpl) []string {
	if str(get(t.raw, "Resources", sweepFunction, "Type")) != serverlessFn {
		return []string{fmt.Sprintf("Resources.%s: want an %s", sweepFunction, serverlessFn)}
	}
	for _, ev := range asMap(t.fnProp(sweepFunction, "Events")) {
		if str(get(ev, "Type")) == "Schedule" {
			if p, _ := refName(get(ev, "Properties", "Schedule")); p == "SweepSchedule" {
				return nil
			}
		}
	}
	return []string{fmt.Sprintf("Resources.%s.Properties.Events: want a Schedule event with Schedule: !Ref SweepSchedule", sweepFunction)}
}

func checkParameters(t *tmpl) []string {
	var out []string
	params := asMap(t.raw["Parameters"])
	for _, p := range []string{"AlertEmail", "EmailMinSeverity", existingTopicArn, "FsxKeyArns", "MinSeverity", "FsxDiscovery", "SweepSchedule", "RemindAfter"} {
		if _, ok := params[p]; !ok {
			out = append(out, fmt.Sprintf("Parameters.%s: missing", p))
		}
	}
	for p, want := range map[string]string{"EmailMinSeverity": "WARNING", "SweepSchedule": "rate(6 hours)", "FsxDiscovery": "on", existingTopicArn: "", "RemindAfter": "24h"} {
		if _, ok := params[p]; ok {
			if d, ok := asMap(params[p])["Default"]; !ok || d != want {
				out = append(out, fmt.Sprintf("Parameters.%s.Default is %s, want %q", p, compact(d), want))
			}
		}
	}
	return out
}

func checkOutputs(t *tmpl) []string {
	var topic, queue bool
	for _, o := range asMap(t.raw["Outputs"]) {
		v := get(o, "Value")
		topic = topic || isAlertTopic(v)
		queue = queue || isGetAtt(v, failureQueue, "Arn")
	}
	var out []string
	if !topic {
		out = append(out, "Outputs: no output gives the alert topic ARN")
	}
	if !queue {
		out = append(out, "Outputs: no output gives the failure queue ARN (!GetAtt FailureQueue.Arn)")
	}
	return out
}

// isAlertTopic reports whether v names the alert topic: !Ref AlertTopic, the
// ExistingAlertTopicArn parameter, an Fn::If choosing between them, or a list
// of those.
func isAlertTopic(v any) bool {
	if name, ok := refName(v); ok {
		return name == alertTopic || name == existingTopicArn
	}
	if l := anyList(get(v, "Fn::If")); len(l) == 3 {
		return isAlertTopic(l[1]) && isAlertTopic(l[2])
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		for _, e := range l {
			if !isAlertTopic(e) {
				return false
			}
		}
		return true
	}
	return false
}

func refName(v any) (string, bool) {
	m := asMap(v)
	r, ok := m["Ref"].(string)
	return r, ok && len(m) == 1
}

func isGetAtt(v any, res, attr string) bool {
	a := get(v, "Fn::GetAtt")
	if s, ok := a.(string); ok {
		return s == res+"."+attr
	}
	return equalJSON(a, []any{res, attr})
}

// get follows keys through nested maps; nil if any is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		v = asMap(v)[k]
	}
	return v
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func anyList(v any) []any        { l, _ := v.([]any); return l }
func str(v any) string           { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, e := range anyList(v) {
		out = append(out, str(e))
	}
	return out
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// samResources is Resources plus the roles SAM generates: <Function>Role
// (AWS::IAM::Role, under the function's Condition) for each function without
// a Role property, which the template may reference with !GetAtt.
func (t *tmpl) samResources() map[string]any {
	out := maps.Clone(asMap(t.raw["Resources"]))
	if out == nil {
		out = map[string]any{}
	}
	for _, id := range t.functions() {
		if get(t.raw, "Resources", id, "Properties", "Role") != nil {
			continue
		}
		role := map[string]any{"Type": "AWS::IAM::Role"}
		if c := get(t.raw, "Resources", id, "Condition"); c != nil {
			role["Condition"] = c
		}
		if _, taken := out[id+"Role"]; !taken {
			out[id+"Role"] = role
		}
	}
	return out
}

// functionRoles are the logical IDs of the functions' roles (fnRole).
func (t *tmpl) functionRoles() []string {
	var out []string
	for _, id := range t.functions() {
		out = append(out, t.fnRole(id))
	}
	return out
}

// roleArns returns the resources of a list of !GetAtt X.Arn, each possibly
// as !If [C, !GetAtt X.Arn, !Ref AWS::NoValue] where C is X's Condition (a
// role that exists only with C), and false if anything in v is not one.
func (t *tmpl) roleArns(v any) ([]string, bool) {
	var out []string
	for _, e := range oneOrMany(v) {
		if l := anyList(get(e, "Fn::If")); len(l) == 3 && len(asMap(e)) == 1 {
			r, ok := getAttArns(l[1])
			if nv, _ := refName(l[2]); !ok || len(r) != 1 || nv != "AWS::NoValue" || str(get(t.raw, "Resources", r[0], "Condition")) != str(l[0]) {
				return nil, false
			}
			out = append(out, r[0])
			continue
		}
		r, ok := getAttArns(e)
		if !ok {
			return nil, false
		}
		out = append(out, r...)
	}
	return out, len(out) > 0
}

// statements returns the statements of a policy document, each with where it is.
func statements(where string, doc any) []statement {
	sts := get(doc, "Statement")
	if m, ok := sts.(map[string]any); ok {
		sts = []any{m}
	}
	var out []statement
	for i, s := range anyList(sts) {
		out = append(out, statement{where: fmt.Sprintf("%s.Statement[%d]", where, i), s: asMap(s)})
	}
	return out
}

// oneOrMany is v as a list: a list as is, anything else as a list of one.
func oneOrMany(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// getAttArns returns the resources of a list of !GetAtt X.Arn, and false if
// anything in v is not one.
func getAttArns(v any) ([]string, bool) {
	var out []string
	for _, e := range oneOrMany(v) {
		a := get(e, "Fn::GetAtt")
		res, attr := "", ""
		if s, ok := a.(string); ok {
			res, attr, _ = strings.Cut(s, ".")
		} else if l := anyList(a); len(l) == 2 {
			res, attr = str(l[0]), str(l[1])
		}
		if res == "" || attr != "Arn" || len(asMap(e)) != 1 {
			return nil, false
		}
		out = append(out, res)
	}
	return out, len(out) > 0
}

// isAccountID reports whether v is !Ref AWS::AccountId.
func isAccountID(v any) bool {
	name, ok := refName(v)
	return ok && name == "AWS::AccountId"
}

// checkTopicPolicy requires a topic policy on the alert topic, under the
// topic's condition, that allows sns:Publish only to the functions' roles and,
// from this account (aws:SourceAccount), to CloudWatch (the failure queue's
// alarm), and denies sns:Publish to every other principal that is not an AWS
// service: an Allow alone would not stop someone whose IAM policy allows
// sns:Publish from forging an alert.
func checkTopicPolicy(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	res := asMap(t.raw["Resources"])
	var ids []string
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::SNS::TopicPolicy" {
			continue
		}
		for _, topic := range oneOrMany(get(res[id], "Properties", "Topics")) {
			if name, ok := refName(topic); ok && name == alertTopic {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) != 1 {
		return []string{fmt.Sprintf("Resources: want one AWS::SNS::TopicPolicy with Topics [!Ref %s], found %d (no AWS::SNS::TopicPolicy means anyone in the account with sns:Publish can forge alerts)", alertTopic, len(ids))}
	}
	id := ids[0]
	if c, want := str(get(res[id], "Condition")), str(get(res[alertTopic], "Condition")); c != want {
		bad("Resources.%s.Condition is %q, want %s (the topic's)", id, c, want)
	}
	roles := t.functionRoles()
	var allowRoles, allowCloudWatch, deny bool
	for _, st := range statements("Resources."+id+".Properties.PolicyDocument", get(res[id], "Properties", "PolicyDocument")) {
		for _, a := range oneOrMany(st.s["Action"]) {
			if !strings.EqualFold(str(a), "sns:Publish") {
				bad("%s.Action: %s; the alert topic's policy is about sns:Publish only", st.where, compact(a))
			}
		}
		if r, ok := refName(st.s["Resource"]); !ok || r != alertTopic {
			bad("%s.Resource is %s, want !Ref %s", st.where, compact(st.s["Resource"]), alertTopic)
		}
		principal := asMap(st.s["Principal"])
		switch str(st.s["Effect"]) {
		case "Allow":
			switch {
			case len(principal) == 1 && principal["AWS"] != nil:
				got, ok := t.roleArns(principal["AWS"])
				if !ok {
					bad("%s.Principal.AWS is %s; the topic may only allow the functions' roles (!GetAtt <Function>Role.Arn)", st.where, compact(principal["AWS"]))
					continue
				}
				out = append(out, sameSet(st.where+".Principal.AWS", got, roles)...)
				allowRoles = true
			case len(principal) == 1 && equalJSON(principal["Service"], "cloudwatch.amazonaws.com"):
				allowCloudWatch = true // its aws:SourceAccount: checkServicePrincipals
			default:
				bad("%s.Principal is %s; the topic policy may only allow the functions' roles and cloudwatch.amazonaws.com", st.where, compact(st.s["Principal"]))
			}
		case "Deny":
			deny = true
			if !equalJSON(st.s["Principal"], "*") && !equalJSON(principal["AWS"], "*") {
				bad("%s.Principal is %s, want \"*\" (every other publisher)", st.where, compact(st.s["Principal"]))
			}
			cond := asMap(st.s["Condition"])
			if len(cond) != 2 {
				bad("%s.Condition: want exactly ArnNotEquals aws:PrincipalArn and BoolIfExists aws:PrincipalIsAWSService; got %s", st.where, compact(cond))
			}
			got, ok := t.roleArns(get(cond, "ArnNotEquals", "aws:PrincipalArn"))
			if !ok || len(asMap(cond["ArnNotEquals"])) != 1 {
				bad("%s.Condition.ArnNotEquals: want only aws:PrincipalArn: the functions' roles (!GetAtt <Function>Role.Arn); got %s", st.where, compact(cond["ArnNotEquals"]))
			} else {
				out = append(out, sameSet(st.where+".Condition.ArnNotEquals.aws:PrincipalArn", got, roles)...)
			}
			if v := get(cond, "BoolIfExists", "aws:PrincipalIsAWSService"); !equalJSON(v, "false") || len(asMap(cond["BoolIfExists"])) != 1 {
				bad("%s.Condition.BoolIfExists: want only aws:PrincipalIsAWSService: \"false\", so that CloudWatch's alarm can still publish; got %s", st.where, compact(cond["BoolIfExists"]))
			}
		default:
			bad("%s.Effect is %s", st.where, compact(st.s["Effect"]))
		}
	}
	if !allowRoles {
		bad("Resources.%s: no statement allows sns:Publish to the functions' roles", id)
	}
	if !allowCloudWatch {
		bad("Resources.%s: no statement allows sns:Publish to cloudwatch.amazonaws.com (the failure queue's alarm)", id)
	}
	if !deny {
		bad("Resources.%s: no Deny of sns:Publish to everyone but the functions' roles and AWS services; an Allow alone does not stop principals whose IAM policies allow sns:Publish", id)
	}
	return out
}

// resourcePolicies are the resource policies of the template: key policies,
// topic policies and queue policies.
func (t *tmpl) resourcePolicies() []statement {
	var out []statement
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		where := "Resources." + id + ".Properties"
		switch str(get(res[id], "Type")) {
		case "AWS::KMS::Key":
			out = append(out, statements(where+".KeyPolicy", get(res[id], "Properties", "KeyPolicy"))...)
		case "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			out = append(out, statements(where+".PolicyDocument", get(res[id], "Properties", "PolicyDocument"))...)
		case "AWS::Events::EventBusPolicy":
			out = append(out, statements(where, get(res[id], "Properties"))...)
		}
	}
	return out
}

// checkServicePrincipals requires every resource policy statement that
// allows an AWS service principal to limit it to this account, with
// StringEquals aws:SourceAccount: !Ref AWS::AccountId, or to exact resources
// with ArnEquals aws:SourceArn (no wildcards): otherwise the service acting
// for another account could use the key, topic or queue (a confused deputy).
func checkServicePrincipals(t *tmpl) []string {
	var out []string
	for _, st := range t.resourcePolicies() {
		if str(st.s["Effect"]) != "Allow" || get(st.s["Principal"], "Service") == nil {
			continue
		}
		cond := asMap(st.s["Condition"])
		if isAccountID(get(cond, "StringEquals", "aws:SourceAccount")) {
			continue
		}
		arns := oneOrMany(get(cond, "ArnEquals", "aws:SourceArn"))
		exact := len(arns) > 0
		for _, a := range arns {
			if sub := str(get(a, "Fn::Sub")); sub == "" || strings.ContainsAny(sub, "*?") {
				if _, ok := getAttArns(a); !ok {
					exact = false
				}
			}
		}
		if !exact {
			out = append(out, fmt.Sprintf("%s: service principal %s without StringEquals aws:SourceAccount: !Ref AWS::AccountId or exact ArnEquals aws:SourceArn; got Condition %s", st.where, compact(get(st.s["Principal"], "Service")), compact(cond)))
		}
	}
	return out
}

// ruleARNPrefix is how the queue policy writes a rule ARN before its name.
const ruleARNPrefix = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"

// checkQueuePolicy requires the failure queue's policy to let EventBridge send
// only from the rules whose dead-letter queue it is, each named by its exact
// ARN (ArnEquals aws:SourceArn: the !Sub of the rule's RuleName, or !GetAtt of
// the rule), so that another stack's rules cannot.
func checkQueuePolicy(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	// The rules that dead-letter to the queue, as "<Function>.Events.<Event>",
	// by their ARN as the policy may write it.
	byARN := map[string]string{}
	var want []string
	for _, id := range t.functions() {
		evs := asMap(get(t.raw, "Resources", id, "Properties", "Events"))
		for _, ev := range sortedKeys(evs) {
			if !isGetAtt(get(evs[ev], "Properties", "DeadLetterConfig", "Arn"), failureQueue, "Arn") {
				continue
			}
			name := id + ".Events." + ev
			want = append(want, name)
			byARN["GetAtt:"+id+ev] = name // the AWS::Events::Rule SAM generates
			if rn := get(evs[ev], "Properties", "RuleName"); rn != nil {
				sub, _ := get(rn, "Fn::Sub").(string)
				if sub == "" {
					sub = str(rn)
				}
				byARN["Sub:"+ruleARNPrefix+sub] = name
			}
		}
	}
	res := asMap(t.raw["Resources"])
	// AWS::Events::Rule resources with a target dead-lettering to the queue
	// (in central mode, the organization bus's), by !GetAtt or by the ARN of
	// their Name on their bus: rule/<bus name>/<rule name> on a custom bus.
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::Events::Rule" {
			continue
		}
		dl := false
		for _, tg := range anyList(get(res[id], "Properties", "Targets")) {
			dl = dl || isGetAtt(get(tg, "DeadLetterConfig", "Arn"), failureQueue, "Arn")
		}
		if !dl {
			continue
		}
		name := "Resources." + id
		want = append(want, name)
		byARN["GetAtt:"+id] = name
		subOf := func(v any) string {
			if sub, ok := get(v, "Fn::Sub").(string); ok {
				return sub
			}
			return str(v)
		}
		rn := subOf(get(res[id], "Properties", "Name"))
		if rn == "" {
			continue
		}
		bus := get(res[id], "Properties", "EventBusName")
		if b, ok := refName(bus); ok && str(get(res[b], "Type")) == "AWS::Events::EventBus" {
			bus = get(res[b], "Properties", "Name")
		}
		if b := subOf(bus); b != "" && b != "default" {
			rn = b + "/" + rn
		}
		byARN["Sub:"+ruleARNPrefix+rn] = name
	}
	var found bool
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::SQS::QueuePolicy" {
			continue
		}
		for _, st := range statements("Resources."+id+".Properties.PolicyDocument", get(res[id], "Properties", "PolicyDocument")) {
			if str(st.s["Effect"]) != "Allow" || !equalJSON(get(st.s["Principal"], "Service"), "events.amazonaws.com") {
				continue
			}
			found = true
			cond := asMap(st.s["Condition"])
			if len(cond) != 1 || len(asMap(cond["ArnEquals"])) != 1 {
				bad("%s.Condition: want only ArnEquals aws:SourceArn (exact rule ARNs); got %s", st.where, compact(cond))
			}
			var got []string
			for i, a := range oneOrMany(get(cond, "ArnEquals", "aws:SourceArn")) {
				key := ""
				if sub, ok := get(a, "Fn::Sub").(string); ok {
					key = "Sub:" + sub
				} else if r, ok := getAttArns(a); ok {
					key = "GetAtt:" + r[0]
				}
				name, ok := byARN[key]
				if !ok {
					bad("%s.Condition.ArnEquals.aws:SourceArn[%d]: %s is not the exact ARN of a rule whose DeadLetterConfig is %s (write %s<RuleName> or !GetAtt of the rule)", st.where, i, compact(a), failureQueue, ruleARNPrefix)
					continue
				}
				got = append(got, name)
			}
			out = append(out, sameSet(st.where+".Condition.ArnEquals.aws:SourceArn", got, want)...)
		}
	}
	if !found && len(want) > 0 {
		bad("Resources: no AWS::SQS::QueuePolicy lets events.amazonaws.com send to %s, the dead-letter queue of %v", failureQueue, want)
	}
	return out
}

// checkRetain requires DeletionPolicy and UpdateReplacePolicy Retain on the
// resources that hold state: the failure queue (events nobody has judged yet)
// and any DynamoDB table.
func checkRetain(t *tmpl) []string {
	var out []string
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		if id != failureQueue && str(get(res[id], "Type")) != "AWS::DynamoDB::Table" {
			continue
		}
		for _, attr := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v := str(get(res[id], attr)); v != "Retain" {
				out = append(out, fmt.Sprintf("Resources.%s.%s is %q, want Retain: it holds state a deletion or replacement would lose", id, attr, v))
			}
		}
	}
	if _, ok := res[failureQueue]; !ok {
		out = append(out, fmt.Sprintf("Resources.%s: missing", failureQueue))
	}
	return out
}

// checkState requires the alert state table as package state reads and
// writes it, and the two functions wired to it:
//   - the table's key schema and attribute definitions are exactly
//     state.KeyAttribute (HASH, S) and state.FindingAttribute (RANGE, S),
//     and its TimeToLiveSpecification is enabled on state.TTLAttribute;
//   - on-demand billing (PAY_PER_REQUEST), point-in-time recovery and
//     encryption at rest (SSESpecification SSEEnabled) are on (Retain:
//     checkRetain);
//   - every function has STATE_TABLE: !Ref StateTable and REMIND_AFTER:
//     !Ref RemindAfter (a String parameter), and is allowed exactly
//     stateActions, on exactly the table's ARN (checkIAM refuses DynamoDB
//     actions on anything else).
func checkState(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	table := get(t.raw, "Resources", stateTable)
	where := "Resources." + stateTable
	if str(get(table, "Type")) != "AWS::DynamoDB::Table" {
		return []string{where + ": want an AWS::DynamoDB::Table (the alert state, STATE_TABLE)"}
	}
	if c := get(table, "Condition"); c != nil {
		bad("%s.Condition is %s: the state table is created by default, unconditionally", where, compact(c))
	}
	props := asMap(get(table, "Properties"))
	var keys, attrs []string
	for _, k := range anyList(props["KeySchema"]) {
		keys = append(keys, str(get(k, "AttributeName"))+" "+str(get(k, "KeyType")))
	}
	for _, a := range anyList(props["AttributeDefinitions"]) {
		attrs = append(attrs, str(get(a, "AttributeName"))+" "+str(get(a, "AttributeType")))
	}
	if want := []string{state.KeyAttribute + " HASH", state.FindingAttribute + " RANGE"}; !slices.Equal(keys, want) {
		bad("%s.Properties.KeySchema is %q, want %q (pkg/state/schema.go)", where, keys, want)
	}
	if want := []string{state.KeyAttribute + " S", state.FindingAttribute + " S"}; !slices.Equal(attrs, want) {
		bad("%s.Properties.AttributeDefinitions is %q, want %q (pkg/state/schema.go; no attribute that is not a key)", where, attrs, want)
	}
	if ttl := props["TimeToLiveSpecification"]; str(get(ttl, "AttributeName")) != state.TTLAttribute || get(ttl, "Enabled") != true {
		bad("%s.Properties.TimeToLiveSpecification is %s, want AttributeName %s, Enabled true", where, compact(ttl), state.TTLAttribute)
	}
	if v := str(props["BillingMode"]); v != "PAY_PER_REQUEST" {
		bad("%s.Properties.BillingMode is %q, want PAY_PER_REQUEST (on-demand: a burst of events is never throttled by provisioned capacity)", where, v)
	}
	if v := get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"); v != true {
		bad("%s.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is %s, want true", where, compact(v))
	}
	if v := get(props, "SSESpecification", "SSEEnabled"); v != true {
		bad("%s.Properties.SSESpecification.SSEEnabled is %s, want true (encryption at rest with a KMS key)", where, compact(v))
	}
	if typ := str(get(t.raw, "Parameters", "RemindAfter", "Type")); typ != "String" {
		bad("Parameters.RemindAfter.Type is %q, want String (a duration such as 24h; 0 never reminds)", typ)
	}

	sts, _ := t.iamStatements()
	for _, id := range t.functions() {
		env := t.fnEnv(id)
		if r, _ := refName(env["STATE_TABLE"]); r != stateTable {
			bad("Resources.%s: environment variable STATE_TABLE is %s, want !Ref %s", id, compact(env["STATE_TABLE"]), stateTable)
		}
		if r, _ := refName(env["REMIND_AFTER"]); r != "RemindAfter" {
			bad("Resources.%s: environment variable REMIND_AFTER is %s, want !Ref RemindAfter", id, compact(env["REMIND_AFTER"]))
		}
		var got []string
		for _, st := range t.fnStatements(id, sts) {
			if str(st.s["Effect"]) != "Allow" {
				continue
			}
			for _, a := range oneOrMany(st.s["Action"]) {
				if action := str(a); strings.HasPrefix(strings.ToLower(action), "dynamodb:") && !slices.Contains(got, action) {
					got = append(got, action)
				}
			}
		}
		out = append(out, sameSet("Resources."+id+" DynamoDB actions", got, stateActions)...)
	}
	return out
}

func isRef(v any, name string) bool {
	r, ok := refName(v)
	return ok && r == name
}

// checkIntegrations requires the Security Hub export and the event bus to
// be off by default and wired the same way in every function:
//   - parameter SecurityHub (on|off, default off) and EventBusArn (default
//     empty), conditions SecurityHubOn (SecurityHub is "on") and
//     HasEventBus (EventBusArn is not empty);
//   - every function has SECURITY_HUB: !Ref SecurityHub and EVENT_BUS_ARN:
//     !Ref EventBusArn, and one statement allowing
//     securityhub:BatchImportFindings and one allowing events:PutEvents,
//     each under its condition (checkIAM limits their resources).
func checkIntegrations(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	params := asMap(t.raw["Parameters"])
	if p := asMap(params["SecurityHub"]); p == nil {
		bad("Parameters.SecurityHub: missing")
	} else {
		if d := p["Default"]; d != "off" {
			bad("Parameters.SecurityHub.Default is %s, want \"off\" (Security Hub charges per finding: on only when asked)", compact(d))
		}
		if v := strs(p["AllowedValues"]); !slices.Equal(v, []string{"on", "off"}) {
			bad("Parameters.SecurityHub.AllowedValues is %q, want [on off]", v)
		}
	}
	if p := asMap(params[eventBusArn]); p == nil {
		bad("Parameters.%s: missing", eventBusArn)
	} else if d, ok := p["Default"]; !ok || d != "" {
		bad("Parameters.%s.Default is %s, want \"\" (no bus)", eventBusArn, compact(d))
	}
	conds := asMap(t.raw["Conditions"])
	if c := conds[securityHubOn]; !equalJSON(c, map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "SecurityHub"}, "on"}}) {
		bad("Conditions.%s is %s, want !Equals [!Ref SecurityHub, \"on\"]", securityHubOn, compact(c))
	}
	if c := conds[hasEventBus]; !equalJSON(c, map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": eventBusArn}, ""}}}}) {
		bad("Conditions.%s is %s, want !Not [!Equals [!Ref %s, \"\"]]", hasEventBus, compact(c), eventBusArn)
	}
	sts, _ := t.iamStatements()
	for _, id := range t.functions() {
		env := t.fnEnv(id)
		if !isRef(env["SECURITY_HUB"], "SecurityHub") {
			bad("Resources.%s: environment variable SECURITY_HUB is %s, want !Ref SecurityHub", id, compact(env["SECURITY_HUB"]))
		}
		if !isRef(env["EVENT_BUS_ARN"], eventBusArn) {
			bad("Resources.%s: environment variable EVENT_BUS_ARN is %s, want !Ref %s", id, compact(env["EVENT_BUS_ARN"]), eventBusArn)
		}
		count := map[string]int{}
		for _, st := range t.fnStatements(id, sts) {
			if str(st.s["Effect"]) != "Allow" {
				continue
			}
			for _, a := range oneOrMany(st.s["Action"]) {
				count[strings.ToLower(str(a))]++
			}
		}
		for _, a := range []string{"securityhub:BatchImportFindings", "events:PutEvents"} {
			if n := count[strings.ToLower(a)]; n != 1 {
				bad("Resources.%s: %d statements allow %s, want 1 (under its condition)", id, n, a)
			}
		}
	}
	return out
}

// singleResources are what single mode (Deployment "single", the default)
// creates, some under conditions of their own (CreateTopic): exactly what
// it created before central mode existed. Everything else the template
// declares carries Condition Central.
var singleResources = []string{
	"AlertEmailSubscription", "AlertTopic", "AlertTopicKey", "AlertTopicPolicy",
	"FailureQueue", "FailureQueueAlarm", "FailureQueuePolicy", "StateTable",
	"KmsEventsFunction", "KmsEventsFunctionRole", "KmsEventsLogGroup",
	"SweepFunction", "SweepFunctionRole", "SweepLogGroup",
}

// num is a JSON number as a float64, and whether v is one.
func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

// allowedBy returns, sorted, the actions the statements of a function allow
// whose service prefix is one of prefixes (e.g. "kms:").
func (t *tmpl) allowedBy(id string, sts []statement, prefixes ...string) []string {
	var out []string
	for _, st := range t.fnStatements(id, sts) {
		if str(st.s["Effect"]) != "Allow" {
			continue
		}
		for _, a := range oneOrMany(st.s["Action"]) {
			action := str(a)
			if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(strings.ToLower(action), p) }) && !slices.Contains(out, action) {
				out = append(out, action)
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkCentral requires Deployment "central" (issue 14) as the Go side
// reads it, and single mode unchanged:
//   - parameters Deployment (single|central, default single),
//     OrganizationId, ReadRoleName (default fsxkms-read), MemberAccounts,
//     Regions (default empty) and SweepWorkers (Number, default 8, 2 to
//     1000: the SQS event source's range); conditions Central and
//     CentralListsAccounts (Central and MemberAccounts empty); a Rules
//     assertion that central mode has an OrganizationId;
//   - single mode creates exactly singleResources; the rest is under
//     Central;
//   - every function has DEPLOYMENT, READ_ROLE_NAME, MEMBER_ACCOUNTS and
//     REGIONS from their parameters, the sweep SWEEP_QUEUE_URL: !If
//     [Central, !Ref SweepQueue, ""];
//   - the organization's bus, with one policy statement: Allow
//     events:PutEvents to Principal "*" on the bus only with exactly
//     StringEquals aws:PrincipalOrgID: !Ref OrganizationId; its two rules
//     target kms-events (retries, the failure queue as dead-letter queue),
//     each with a Lambda permission for exactly that rule;
//   - sweep-worker: one SQS event on the sweep queue, BatchSize 1,
//     ScalingConfig MaximumConcurrency !Ref SweepWorkers; the queue's
//     visibility timeout at least six times the worker's Timeout (Lambda's
//     advice for SQS event sources), a dead-letter queue kept at least as
//     long as the queue, with an alarm to the alert topic; the worker reads
//     exactly what kms-events and the sweep read (readActions) and polls
//     with exactly pollActions;
//   - sts:AssumeRole in one statement each of kms-events and sweep-worker
//     (checkIAM: the read role's name, the organization, central only),
//     none in the sweep; organizations:ListAccounts and sqs:SendMessage on
//     the sweep queue in the sweep's role only (checkIAM);
//   - the roles the member accounts trust have predictable names in
//     central mode (${AWS::StackName}-kms-events, -sweep-worker), given
//     as outputs with the bus ARN.
func checkCentral(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	params := asMap(t.raw["Parameters"])
	for _, p := range []struct {
		name, typ string
		def       any
	}{
		{"Deployment", "String", "single"}, {"OrganizationId", "String", ""}, {"ReadRoleName", "String", "fsxkms-read"},
		{"MemberAccounts", "String", ""}, {"Regions", "String", ""}, {"SweepWorkers", "Number", 8.0},
	} {
		pm := asMap(params[p.name])
		if pm == nil {
			bad("Parameters.%s: missing", p.name)
			continue
		}
		if typ := str(pm["Type"]); typ != p.typ {
			bad("Parameters.%s.Type is %q, want %s", p.name, typ, p.typ)
		}
		if d, ok := pm["Default"]; !ok || !equalJSON(d, p.def) {
			bad("Parameters.%s.Default is %s, want %s", p.name, compact(d), compact(p.def))
		}
	}
	if v := strs(get(params, "Deployment", "AllowedValues")); !slices.Equal(v, []string{"single", "central"}) {
		bad("Parameters.Deployment.AllowedValues is %q, want [single central]", v)
	}
	if lo, _ := num(get(params, "SweepWorkers", "MinValue")); lo != 2 {
		bad("Parameters.SweepWorkers.MinValue is %s, want 2 (the least MaximumConcurrency an SQS event source takes)", compact(get(params, "SweepWorkers", "MinValue")))
	}
	if hi, _ := num(get(params, "SweepWorkers", "MaxValue")); hi != 1000 {
		bad("Parameters.SweepWorkers.MaxValue is %s, want 1000 (the most MaximumConcurrency an SQS event source takes)", compact(get(params, "SweepWorkers", "MaxValue")))
	}
	isCentral := map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Deployment"}, "central"}}
	conds := asMap(t.raw["Conditions"])
	if c := conds[central]; !equalJSON(c, isCentral) {
		bad("Conditions.%s is %s, want !Equals [!Ref Deployment, central]", central, compact(c))
	}
	if c, want := conds[centralLists], map[string]any{"Fn::And": []any{map[string]any{"Condition": central}, map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "MemberAccounts"}, ""}}}}; !equalJSON(c, want) {
		bad("Conditions.%s is %s, want !And [!Condition %s, !Equals [!Ref MemberAccounts, \"\"]]", centralLists, compact(c), central)
	}
	asserted := false
	for _, r := range asMap(t.raw["Rules"]) {
		if !equalJSON(get(r, "RuleCondition"), isCentral) {
			continue
		}
		for _, a := range anyList(get(r, "Assertions")) {
			asserted = asserted || equalJSON(get(a, "Assert"), map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "OrganizationId"}, ""}}}})
		}
	}
	if !asserted {
		bad("Rules: want a rule with RuleCondition !Equals [!Ref Deployment, central] asserting !Not [!Equals [!Ref OrganizationId, \"\"]]: without it a central stack would accept events from no one and assume no role")
	}

	res := asMap(t.raw["Resources"])
	var single []string
	for _, id := range sortedKeys(res) {
		if c := str(get(res[id], "Condition")); c == "" || !t.implies([]string{c}, central) {
			single = append(single, id)
		}
	}
	out = append(out, sameSet("Resources without Condition Central (single mode creates exactly the resources it created before central mode)", single, singleResources)...)

	for _, id := range t.functions() {
		env := t.fnEnv(id)
		for name, param := range map[string]string{"DEPLOYMENT": "Deployment", "READ_ROLE_NAME": "ReadRoleName", "MEMBER_ACCOUNTS": "MemberAccounts", "REGIONS": "Regions"} {
			if !isRef(env[name], param) {
				bad("Resources.%s: environment variable %s is %s, want !Ref %s", id, name, compact(env[name]), param)
			}
		}
	}
	if v, want := t.fnEnv(sweepFunction)["SWEEP_QUEUE_URL"], map[string]any{"Fn::If": []any{central, map[string]any{"Ref": sweepQueue}, ""}}; !equalJSON(v, want) {
		bad("Resources.%s: environment variable SWEEP_QUEUE_URL is %s, want !If [%s, !Ref %s, \"\"]", sweepFunction, compact(v), central, sweepQueue)
	}

	// The organization's bus and who may put events on it.
	if bus := res[orgEventBus]; str(get(bus, "Type")) != "AWS::Events::EventBus" {
		bad("Resources.%s: want an AWS::Events::EventBus (the organization's KMS events)", orgEventBus)
	} else if get(bus, "Properties", "Policy") != nil {
		bad("Resources.%s.Properties.Policy: keep the bus policy in its AWS::Events::EventBusPolicy, which the checks read", orgEventBus)
	}
	var busPolicies []string
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::Events::EventBusPolicy" {
			continue
		}
		busPolicies = append(busPolicies, id)
		where := "Resources." + id + ".Properties"
		props := asMap(get(res[id], "Properties"))
		if !isRef(props["EventBusName"], orgEventBus) {
			bad("%s.EventBusName is %s, want !Ref %s", where, compact(props["EventBusName"]), orgEventBus)
		}
		for _, legacy := range []string{"Action", "Principal", "Condition"} {
			if props[legacy] != nil {
				bad("%s.%s: write the policy as one Statement, which the checks read", where, legacy)
			}
		}
		st := asMap(props["Statement"])
		if v := st["Effect"]; v != "Allow" {
			bad("%s.Statement.Effect is %s, want Allow", where, compact(v))
		}
		if v := st["Principal"]; !equalJSON(v, "*") {
			bad("%s.Statement.Principal is %s, want \"*\" limited by aws:PrincipalOrgID (accounts join and leave the organization)", where, compact(v))
		}
		if acts := oneOrMany(st["Action"]); len(acts) != 1 || acts[0] != "events:PutEvents" {
			bad("%s.Statement.Action is %s, want events:PutEvents only", where, compact(st["Action"]))
		}
		if !isGetAtt(st["Resource"], orgEventBus, "Arn") {
			bad("%s.Statement.Resource is %s, want !GetAtt %s.Arn", where, compact(st["Resource"]), orgEventBus)
		}
		if want := map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": map[string]any{"Ref": "OrganizationId"}}}; !equalJSON(st["Condition"], want) {
			bad("%s.Statement.Condition is %s, want exactly StringEquals aws:PrincipalOrgID: !Ref OrganizationId (the organization's accounts only)", where, compact(st["Condition"]))
		}
		for k := range st {
			if !slices.Contains([]string{"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}, k) {
				bad("%s.Statement.%s: not expected (NotPrincipal, NotAction, NotResource cannot be checked)", where, k)
			}
		}
	}
	if len(busPolicies) != 1 {
		bad("Resources: want one AWS::Events::EventBusPolicy (the organization may put events on %s), found %v", orgEventBus, busPolicies)
	}

	// The rules on that bus invoke kms-events, each allowed to by its own permission.
	var orgRules []string
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::Events::Rule" || !isRef(get(res[id], "Properties", "EventBusName"), orgEventBus) {
			continue
		}
		orgRules = append(orgRules, id)
		where := "Resources." + id + ".Properties"
		tgs := anyList(get(res[id], "Properties", "Targets"))
		if len(tgs) != 1 {
			bad("%s.Targets: want one target, kms-events; got %s", where, compact(tgs))
			continue
		}
		tg := tgs[0]
		if !isGetAtt(get(tg, "Arn"), kmsEventsFn, "Arn") {
			bad("%s.Targets[0].Arn is %s, want !GetAtt %s.Arn", where, compact(get(tg, "Arn")), kmsEventsFn)
		}
		if !isGetAtt(get(tg, "DeadLetterConfig", "Arn"), failureQueue, "Arn") {
			bad("%s.Targets[0].DeadLetterConfig.Arn is %s, want !GetAtt %s.Arn, as the default bus's rules", where, compact(get(tg, "DeadLetterConfig", "Arn")), failureQueue)
		}
		if get(tg, "RetryPolicy") == nil {
			bad("%s.Targets[0].RetryPolicy: missing; set it as the default bus's rules do", where)
		}
		var perms []string
		for _, pid := range sortedKeys(res) {
			pp := get(res[pid], "Properties")
			if str(get(res[pid], "Type")) == "AWS::Lambda::Permission" && isGetAtt(get(pp, "SourceArn"), id, "Arn") {
				perms = append(perms, pid)
				if !isRef(get(pp, "FunctionName"), kmsEventsFn) && !isGetAtt(get(pp, "FunctionName"), kmsEventsFn, "Arn") {
					bad("Resources.%s.Properties.FunctionName is %s, want !Ref %s", pid, compact(get(pp, "FunctionName")), kmsEventsFn)
				}
				if str(get(pp, "Principal")) != "events.amazonaws.com" || str(get(pp, "Action")) != "lambda:InvokeFunction" {
					bad("Resources.%s: want Principal events.amazonaws.com, Action lambda:InvokeFunction; got %s, %s", pid, compact(get(pp, "Principal")), compact(get(pp, "Action")))
				}
			}
		}
		if len(perms) != 1 {
			bad("Resources: want one AWS::Lambda::Permission with SourceArn !GetAtt %s.Arn (EventBridge may invoke kms-events for that rule only), found %v", id, perms)
		}
	}
	if len(orgRules) != 2 {
		bad("Resources: want two AWS::Events::Rule on !Ref %s (the KMS CloudTrail events and KMS's own, as on the default bus), found %v", orgEventBus, orgRules)
	}

	// sweep-worker and its queue.
	w := res[sweepWorkerFn]
	if str(get(w, "Type")) != serverlessFn {
		bad("Resources.%s: want an %s (judges one account and Region per work item)", sweepWorkerFn, serverlessFn)
	} else {
		evs := asMap(get(w, "Properties", "Events"))
		if len(evs) != 1 {
			bad("Resources.%s.Properties.Events: want one SQS event, the sweep queue; got %s", sweepWorkerFn, compact(evs))
		}
		for name, ev := range evs {
			where := fmt.Sprintf("Resources.%s.Properties.Events.%s", sweepWorkerFn, name)
			if str(get(ev, "Type")) != "SQS" || !isGetAtt(get(ev, "Properties", "Queue"), sweepQueue, "Arn") {
				bad("%s: want Type SQS, Queue !GetAtt %s.Arn; got %s", where, sweepQueue, compact(ev))
			}
			if b, _ := num(get(ev, "Properties", "BatchSize")); b != 1 {
				bad("%s.Properties.BatchSize is %s, want 1 (one account and Region per invocation)", where, compact(get(ev, "Properties", "BatchSize")))
			}
			if mc := get(ev, "Properties", "ScalingConfig", "MaximumConcurrency"); !isRef(mc, "SweepWorkers") {
				bad("%s.Properties.ScalingConfig.MaximumConcurrency is %s, want !Ref SweepWorkers (bounded concurrency: no account's KMS quota exhausted)", where, compact(mc))
			}
		}
	}
	q := res[sweepQueue]
	if str(get(q, "Type")) != "AWS::SQS::Queue" {
		bad("Resources.%s: want an AWS::SQS::Queue (the sweep's work items)", sweepQueue)
	} else {
		timeout, _ := num(t.fnProp(sweepWorkerFn, "Timeout"))
		if vt, ok := num(get(q, "Properties", "VisibilityTimeout")); !ok || timeout == 0 || vt < 6*timeout {
			bad("Resources.%s.Properties.VisibilityTimeout is %s, want at least six times %s's Timeout (%v s), as Lambda advises for SQS event sources: a message must not reappear while a worker still judges it", sweepQueue, compact(get(q, "Properties", "VisibilityTimeout")), sweepWorkerFn, timeout)
		}
		if n, ok := num(get(q, "Properties", "RedrivePolicy", "maxReceiveCount")); !ok || n < 1 {
			bad("Resources.%s.Properties.RedrivePolicy.maxReceiveCount is %s, want a number of attempts", sweepQueue, compact(get(q, "Properties", "RedrivePolicy", "maxReceiveCount")))
		}
		if dlq, ok := getAttArns(get(q, "Properties", "RedrivePolicy", "deadLetterTargetArn")); ok && len(dlq) == 1 {
			keep, _ := num(get(res[dlq[0]], "Properties", "MessageRetentionPeriod"))
			qKeep, ok := num(get(q, "Properties", "MessageRetentionPeriod"))
			if !ok {
				qKeep = 345600 // SQS's default, 4 days
			}
			if keep < qKeep {
				bad("Resources.%s.Properties.MessageRetentionPeriod is %v, want at least %s's (%v): a moved message keeps its first enqueue time", dlq[0], keep, sweepQueue, qKeep)
			}
			alarmed := false
			for _, id := range sortedKeys(res) {
				a := get(res[id], "Properties")
				if str(get(res[id], "Type")) != "AWS::CloudWatch::Alarm" || str(get(a, "MetricName")) != "ApproximateNumberOfMessagesVisible" {
					continue
				}
				for _, d := range anyList(get(a, "Dimensions")) {
					if str(get(d, "Name")) == "QueueName" && isGetAtt(get(d, "Value"), dlq[0], "QueueName") && isAlertTopic(get(a, "AlarmActions")) {
						alarmed = true
					}
				}
			}
			if !alarmed {
				bad("Resources: no AWS::CloudWatch::Alarm on %s's ApproximateNumberOfMessagesVisible with the alert topic as action: an account and Region that cannot be swept would go unnoticed", dlq[0])
			}
		}
	}

	// Who may do what in central mode (checkIAM limits each statement).
	sts, _ := t.iamStatements()
	want := slices.Sorted(slices.Values(readActions))
	for _, id := range []string{kmsEventsFn, sweepFunction, sweepWorkerFn} {
		if got := t.allowedBy(id, sts, "kms:", "fsx:"); !slices.Equal(got, want) {
			bad("Resources.%s: reads %q, want exactly %q (the central account's own keys and FSx, as the member read role)", id, got, want)
		}
	}
	if got := t.allowedBy(sweepWorkerFn, sts, "sqs:"); !slices.Equal(got, slices.Sorted(slices.Values(pollActions))) {
		bad("Resources.%s: SQS actions %q, want exactly %q (its event source)", sweepWorkerFn, got, pollActions)
	}
	for id, n := range map[string]int{kmsEventsFn: 1, sweepWorkerFn: 1, sweepFunction: 0} {
		if got := len(t.allowedBy(id, sts, "sts:")); got != n {
			bad("Resources.%s: allows %d STS actions, want %d (sts:AssumeRole on the read role, for kms-events and sweep-worker only)", id, got, n)
		}
	}
	if got := t.allowedBy(sweepFunction, sts, "organizations:"); !slices.Equal(got, []string{"organizations:ListAccounts"}) {
		bad("Resources.%s: Organizations actions %q, want [organizations:ListAccounts] (under %s)", sweepFunction, got, centralLists)
	}
	enqueues := false
	for _, st := range t.fnStatements(sweepFunction, sts) {
		enqueues = enqueues || t.queuesSweeps(st)
	}
	if !enqueues {
		bad("Resources.%s: no statement allows sqs:SendMessage on !GetAtt %s.Arn under !If [%s, ...]: the sweep could not queue its work items", sweepFunction, sweepQueue, central)
	}

	// Names the member accounts trust, and the outputs that give them.
	for fn, name := range map[string]any{
		kmsEventsFn:   map[string]any{"Fn::If": []any{central, map[string]any{"Fn::Sub": "${AWS::StackName}-kms-events"}, map[string]any{"Ref": "AWS::NoValue"}}},
		sweepWorkerFn: map[string]any{"Fn::Sub": "${AWS::StackName}-sweep-worker"},
	} {
		role := t.fnRole(fn)
		if got := get(res[role], "Properties", "RoleName"); !equalJSON(got, name) {
			bad("Resources.%s.Properties.RoleName is %s, want %s: a name the member read roles can trust before the role exists", role, compact(got), compact(name))
		}
	}
	for name, v := range map[string]any{
		"OrgEventBusArn":     map[string]any{"Fn::GetAtt": orgEventBus + ".Arn"},
		"KmsEventsRoleArn":   map[string]any{"Fn::GetAtt": t.fnRole(kmsEventsFn) + ".Arn"},
		"SweepWorkerRoleArn": map[string]any{"Fn::GetAtt": t.fnRole(sweepWorkerFn) + ".Arn"},
	} {
		o := get(t.raw, "Outputs", name)
		if !equalJSON(get(o, "Value"), v) || str(get(o, "Condition")) != central {
			bad("Outputs.%s: want Value %s and Condition %s (org/member.yaml's parameters); got %s", name, compact(v), central, compact(o))
		}
	}
	return out
}
