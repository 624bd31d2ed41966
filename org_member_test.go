package fsxkms_test

// This file checks org/member.yaml, the template a service-managed StackSet
// deploys to every member account and Region for template.yaml's central
// mode (issue 14). It reuses template_test.go's reader and helpers. It
// asserts that:
//   - the member's two rules have exactly the patterns of template.yaml's
//     kms-events rules, which equal the decoder's table (one source of
//     truth), and sit on the account's default bus;
//   - each rule's only target is the central bus (!Ref
//     CentralEventBusArn), sent with a role that events.amazonaws.com may
//     assume for this account only and that may only events:PutEvents on
//     that bus;
//   - the read role is read-only: exactly the reads of template.yaml's
//     functions (readActions), plus securityhub:BatchImportFindings on the
//     account's own default product only when SecurityHub is "on"; it is
//     trusted only by the two central roles (aws:PrincipalArn exactly their
//     ARNs, the central account as Principal) in the organization
//     (aws:PrincipalOrgID), is named by ReadRoleName (default as
//     template.yaml's) and exists in one Region only (IAM is global);
//   - the template holds nothing else: rules and roles, no code, no
//     transform to expand.
//
// TestMemberTemplateChecksFail runs the checks on broken copies
// (testdata/member-mutations.yaml).

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	memberTemplate = "org/member.yaml"
	forwardRole    = "ForwardRole" // EventBridge's role for the rules' target, the central bus
	readRole       = "ReadRole"    // the role the central functions assume
	centralBusArn  = "CentralEventBusArn"
	// memberProduct is the Security Hub product the read role may import
	// findings as: the member account's own default product, in any Region.
	memberProduct = "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default"
)

// memberCheck checks the member template m against the central template c.
type memberCheck func(m, c *tmpl) []string

var memberChecks = []struct {
	name string
	fn   memberCheck
}{
	{"References", func(m, _ *tmpl) []string { return checkReferences(m) }},
	{"Resources", memberResources},
	{"Rules", memberRules},
	{"ForwardRole", memberForwardRole},
	{"ReadRole", memberReadRole},
	{"Parameters", memberParameters},
}

func loadMember(t *testing.T) (member []byte, central *tmpl) {
	t.Helper()
	member, err := os.ReadFile(memberTemplate)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if central, err = loadTemplate(data, "."); err != nil {
		t.Fatal(err)
	}
	return member, central
}

func TestMemberTemplate(t *testing.T) {
	data, central := loadMember(t)
	m, err := loadTemplate(data, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range memberChecks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(m, central) {
				t.Error(p)
			}
		})
	}
}

func memberProblems(data []byte, central *tmpl) []string {
	m, err := loadTemplate(data, ".")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range memberChecks {
		out = append(out, c.fn(m, central)...)
	}
	return out
}

// memberResources: rules and roles only, exactly one forward role and one
// read role, and no transform (a StackSet deploys the template as is).
func memberResources(m, _ *tmpl) []string {
	var out []string
	if m.raw["Transform"] != nil {
		out = append(out, fmt.Sprintf("Transform is %s: the member template is plain CloudFormation, deployed as is by a StackSet", compact(m.raw["Transform"])))
	}
	res := asMap(m.raw["Resources"])
	for _, id := range sortedKeys(res) {
		switch typ := str(get(res[id], "Type")); typ {
		case "AWS::Events::Rule":
		case "AWS::IAM::Role":
			if id != forwardRole && id != readRole {
				out = append(out, fmt.Sprintf("Resources.%s: a role other than %s and %s", id, forwardRole, readRole))
			}
		default:
			out = append(out, fmt.Sprintf("Resources.%s: %s; the member template creates EventBridge rules and IAM roles only (nothing that runs or is billed per hour)", id, typ))
		}
	}
	for _, id := range []string{forwardRole, readRole} {
		if str(get(res[id], "Type")) != "AWS::IAM::Role" {
			out = append(out, fmt.Sprintf("Resources.%s: want an AWS::IAM::Role", id))
		}
	}
	return out
}

// memberRules: the patterns, checked together with template.yaml's (all
// of a kind equal, each equal to the decoder's table), on the default bus,
// each rule's one target the central bus with the forward role.
func memberRules(m, c *tmpl) []string {
	var all []pattern
	for _, p := range c.patterns() {
		p.where = "template.yaml: " + p.where
		all = append(all, p)
	}
	for _, p := range m.patterns() {
		p.where = memberTemplate + ": " + p.where
		p.bus = "member " + p.bus
		all = append(all, p)
	}
	out := checkPatterns(all)
	res := asMap(m.raw["Resources"])
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::Events::Rule" {
			continue
		}
		where := "Resources." + id + ".Properties"
		if bus := get(res[id], "Properties", "EventBusName"); bus != nil && !equalJSON(bus, "default") {
			out = append(out, fmt.Sprintf("%s.EventBusName is %s; CloudTrail and KMS put this account's events on the default bus", where, compact(bus)))
		}
		tgs := anyList(get(res[id], "Properties", "Targets"))
		if len(tgs) != 1 {
			out = append(out, fmt.Sprintf("%s.Targets: want one target, the central bus; got %s", where, compact(tgs)))
			continue
		}
		if !isRef(get(tgs[0], "Arn"), centralBusArn) {
			out = append(out, fmt.Sprintf("%s.Targets[0].Arn is %s, want !Ref %s", where, compact(get(tgs[0], "Arn")), centralBusArn))
		}
		if !isGetAtt(get(tgs[0], "RoleArn"), forwardRole, "Arn") {
			out = append(out, fmt.Sprintf("%s.Targets[0].RoleArn is %s, want !GetAtt %s.Arn (a bus in another account takes events from a role)", where, compact(get(tgs[0], "RoleArn")), forwardRole))
		}
	}
	return out
}

// roleStatements are the statements of a role's Policies (iamStatements),
// and the problems of anything there that cannot be checked (a managed
// policy, a permissions boundary is fine).
func roleStatements(m *tmpl, role string) ([]statement, []string) {
	sts, problems := m.iamStatements()
	var out []statement
	for _, st := range sts {
		if st.owner == role {
			out = append(out, st)
		}
	}
	var mine []string
	for _, p := range problems {
		if strings.HasPrefix(p, "Resources."+role+".") {
			mine = append(mine, p)
		}
	}
	return out, mine
}

// memberForwardRole: events.amazonaws.com for this account only; only
// events:PutEvents, on the central bus only.
func memberForwardRole(m, _ *tmpl) []string {
	var out []string
	where := "Resources." + forwardRole + ".Properties"
	trust := get(m.raw, "Resources", forwardRole, "Properties", "AssumeRolePolicyDocument")
	want := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}}},
	}}}
	if !equalJSON(trust, want) {
		out = append(out, fmt.Sprintf("%s.AssumeRolePolicyDocument is %s, want events.amazonaws.com only, with StringEquals aws:SourceAccount: !Ref AWS::AccountId (this account's rules, no confused deputy)", where, compact(trust)))
	}
	sts, problems := roleStatements(m, forwardRole)
	out = append(out, problems...)
	if len(sts) == 0 {
		out = append(out, where+".Policies: no statement: the rules could not put events on the central bus")
	}
	for _, st := range sts {
		acts := oneOrMany(st.s["Action"])
		if str(st.s["Effect"]) != "Allow" || len(acts) != 1 || str(acts[0]) != "events:PutEvents" || !isRef(st.s["Resource"], centralBusArn) || st.cond != "" {
			out = append(out, fmt.Sprintf("%s: the forward role may only Allow events:PutEvents on !Ref %s; got %s", st.where, centralBusArn, compact(st.s)))
		}
	}
	return out
}

// memberReadRole: read-only, as template.yaml's functions read; trusted
// only by the central roles in the organization; one per account.
func memberReadRole(m, c *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	r := get(m.raw, "Resources", readRole)
	where := "Resources." + readRole
	if cond := str(get(r, "Condition")); cond != "CreateReadRole" {
		bad("%s.Condition is %q, want CreateReadRole: IAM is global, and a StackSet creates a stack per Region", where, cond)
	}
	if want := map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AWS::Region"}, map[string]any{"Ref": "ReadRoleRegion"}}}; !equalJSON(get(m.raw, "Conditions", "CreateReadRole"), want) {
		bad("Conditions.CreateReadRole is %s, want !Equals [!Ref AWS::Region, !Ref ReadRoleRegion]", compact(get(m.raw, "Conditions", "CreateReadRole")))
	}
	if !isRef(get(r, "Properties", "RoleName"), "ReadRoleName") {
		bad("%s.Properties.RoleName is %s, want !Ref ReadRoleName (the central functions assume it by name)", where, compact(get(r, "Properties", "RoleName")))
	}
	if d, want := get(m.raw, "Parameters", "ReadRoleName", "Default"), get(c.raw, "Parameters", "ReadRoleName", "Default"); d == nil || !equalJSON(d, want) {
		bad("Parameters.ReadRoleName.Default is %s, want template.yaml's %s", compact(d), compact(want))
	}
	for _, k := range []string{"ManagedPolicyArns", "PermissionsBoundary", "Path"} {
		if v := get(r, "Properties", k); v != nil {
			bad("%s.Properties.%s is %s: the read role has its own policy only, at the path the central functions assume", where, k, compact(v))
		}
	}

	// What it may do: the central functions' reads, nothing else.
	sts, problems := roleStatements(m, readRole)
	out = append(out, problems...)
	var got []string
	for _, st := range sts {
		if str(st.s["Effect"]) != "Allow" {
			continue
		}
		if st.s["NotAction"] != nil || st.s["NotResource"] != nil {
			bad("%s: NotAction or NotResource cannot be checked", st.where)
		}
		for _, a := range oneOrMany(st.s["Action"]) {
			action := str(a)
			switch {
			case strings.ContainsAny(action, "*?"):
				bad("%s.Action: %q is a wildcard", st.where, action)
			case strings.EqualFold(action, "securityhub:BatchImportFindings"):
				if st.cond != securityHubOn || str(get(st.s["Resource"], "Fn::Sub")) != memberProduct {
					bad("%s: securityhub:BatchImportFindings must be allowed only under !If [%s, ...] and only on the account's own default product (!Sub %s); condition %q, Resource %s", st.where, securityHubOn, memberProduct, st.cond, compact(st.s["Resource"]))
				}
			case !slices.Contains(readActions, action):
				bad("%s.Action: %q is not allowed; the read role may only %v (read-only)", st.where, action, readActions)
			case st.cond != "":
				bad("%s: %s is under condition %q; the reads are unconditional", st.where, action, st.cond)
			default:
				got = append(got, action)
			}
		}
	}
	out = append(out, sameSet(where+" reads", got, readActions)...)
	central, _ := c.iamStatements()
	if fn := c.allowedBy(kmsEventsFn, central, "kms:", "fsx:"); !slices.Equal(fn, slices.Sorted(slices.Values(got))) {
		bad("%s reads %q; template.yaml's %s reads %q: they must be equal (the same reads, in the member account)", where, slices.Sorted(slices.Values(got)), kmsEventsFn, fn)
	}
	if v := get(m.raw, "Parameters", "SecurityHub"); get(v, "Default") != "off" || !slices.Equal(strs(get(v, "AllowedValues")), []string{"on", "off"}) {
		bad("Parameters.SecurityHub: want AllowedValues [on off], Default \"off\" (as template.yaml's); got %s", compact(v))
	}
	if want := map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "SecurityHub"}, "on"}}; !equalJSON(get(m.raw, "Conditions", securityHubOn), want) {
		bad("Conditions.%s is %s, want !Equals [!Ref SecurityHub, \"on\"]", securityHubOn, compact(get(m.raw, "Conditions", securityHubOn)))
	}

	// Who may assume it: the central kms-events and sweep-worker roles, in the organization.
	trust := get(r, "Properties", "AssumeRolePolicyDocument")
	tsts := statements(where+".Properties.AssumeRolePolicyDocument", trust)
	if len(tsts) != 1 {
		bad("%s.Properties.AssumeRolePolicyDocument: want one statement (the central functions' roles); got %s", where, compact(trust))
	}
	for _, st := range tsts {
		if str(st.s["Effect"]) != "Allow" || !equalJSON(st.s["Action"], "sts:AssumeRole") && !equalJSON(st.s["Action"], []any{"sts:AssumeRole"}) {
			bad("%s: want Effect Allow, Action sts:AssumeRole only; got %s, %s", st.where, compact(st.s["Effect"]), compact(st.s["Action"]))
		}
		root := map[string]any{"AWS": map[string]any{"Fn::Sub": []any{
			"arn:${AWS::Partition}:iam::${CentralAccount}:root",
			map[string]any{"CentralAccount": map[string]any{"Fn::Select": []any{4.0, map[string]any{"Fn::Split": []any{":", map[string]any{"Ref": "CentralKmsEventsRoleArn"}}}}}},
		}}}
		if !equalJSON(st.s["Principal"], root) {
			bad("%s.Principal is %s, want the central account (its id from CentralKmsEventsRoleArn), narrowed to the central roles by aws:PrincipalArn", st.where, compact(st.s["Principal"]))
		}
		want := map[string]any{
			"ArnEquals":    map[string]any{"aws:PrincipalArn": []any{map[string]any{"Ref": "CentralKmsEventsRoleArn"}, map[string]any{"Ref": "CentralSweepWorkerRoleArn"}}},
			"StringEquals": map[string]any{"aws:PrincipalOrgID": map[string]any{"Ref": "OrganizationId"}},
		}
		if !equalJSON(st.s["Condition"], want) {
			bad("%s.Condition is %s, want exactly ArnEquals aws:PrincipalArn [!Ref CentralKmsEventsRoleArn, !Ref CentralSweepWorkerRoleArn] and StringEquals aws:PrincipalOrgID: !Ref OrganizationId", st.where, compact(st.s["Condition"]))
		}
		for k := range st.s {
			if !slices.Contains([]string{"Sid", "Effect", "Principal", "Action", "Condition"}, k) {
				bad("%s.%s: not expected in the read role's trust", st.where, k)
			}
		}
	}
	return out
}

// memberParameters: what the StackSet must be given has no default; the
// central stack's outputs and parameters supply them.
func memberParameters(m, _ *tmpl) []string {
	var out []string
	for _, p := range []string{centralBusArn, "CentralKmsEventsRoleArn", "CentralSweepWorkerRoleArn", "OrganizationId", "ReadRoleRegion"} {
		v := asMap(get(m.raw, "Parameters", p))
		if v == nil {
			out = append(out, fmt.Sprintf("Parameters.%s: missing", p))
		} else if d, ok := v["Default"]; ok {
			out = append(out, fmt.Sprintf("Parameters.%s.Default is %s: the StackSet must be given it (from the central stack)", p, compact(d)))
		} else if str(v["AllowedPattern"]) == "" {
			out = append(out, fmt.Sprintf("Parameters.%s: no AllowedPattern", p))
		}
	}
	return out
}

// TestMemberTemplateChecksFail shows that the member checks can fail: each
// broken copy of org/member.yaml in testdata/member-mutations.yaml must be
// reported with the given text.
func TestMemberTemplateChecksFail(t *testing.T) {
	orig, central := loadMember(t)
	problems := func(data []byte) []string { return memberProblems(data, central) }
	testMutations(t, memberTemplate, orig, problems, "testdata/member-mutations.yaml")
}
