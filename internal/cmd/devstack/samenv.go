package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// SAM's --env-vars file: `sam local invoke <LogicalId> --env-vars
// D/sam-env.json --docker-network host` runs a function of template.yaml in
// Docker against the local stack instead of an AWS account. SAM takes the
// file's values only for the variables the template declares for that
// function (Globals or its own Environment.Variables); the others are
// dropped without a word. It sets AWS_REGION and the credentials from its
// own session, so sam must run with the stack's dummy credentials in its
// environment too (make sam-invoke sources D/env first).

// samSelf are the variables SAM sets in the function's environment from its
// own session, whatever the file and the template say.
var samSelf = []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// samFunction is a function of a SAM template: its logical id and the
// environment variables the template declares for it.
type samFunction struct {
	ID       string
	Declared []string
}

// samFunctions returns the AWS::Serverless::Function resources of a SAM
// template, sorted by logical id.
func samFunctions(template []byte) ([]samFunction, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("template: empty")
	}
	root := doc.Content[0]
	global := keys(lookup(root, "Globals", "Function", "Environment", "Variables"))
	resources := lookup(root, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template: no Resources")
	}
	var out []samFunction
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, r := resources.Content[i].Value, resources.Content[i+1]
		if t := lookup(r, "Type"); t == nil || t.Value != "AWS::Serverless::Function" {
			continue
		}
		declared := append(append([]string(nil), global...), keys(lookup(r, "Properties", "Environment", "Variables"))...)
		sort.Strings(declared)
		out = append(out, samFunction{ID: id, Declared: declared})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("template: no AWS::Serverless::Function")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// lookup follows a path of mapping keys from n; nil when one is missing.
func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// keys returns the keys of a mapping node.
func keys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

// samEnv is the --env-vars document for fns: each logical id mapped to the
// stack's variables (env, KEY=value: endpoints, dummy credentials, Region,
// STATE_TABLE) and ALERT_TOPIC_ARN empty, so that alerts go to the
// function's output, which sam local invoke prints.
func samEnv(fns []samFunction, env []string) map[string]map[string]string {
	doc := map[string]map[string]string{}
	for _, f := range fns {
		vars := map[string]string{"ALERT_TOPIC_ARN": ""}
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(k, "AWS_ENDPOINT_URL_") || slices.Contains(samSelf, k) || k == "STATE_TABLE") {
				vars[k] = v
			}
		}
		doc[f.ID] = vars
	}
	return doc
}

// dropped returns, per logical id, the variables of doc that sam local
// invoke would drop because the template does not declare them for that
// function (SAM sets the credentials and the Region itself: not counted).
func dropped(fns []samFunction, doc map[string]map[string]string) map[string][]string {
	out := map[string][]string{}
	for _, f := range fns {
		for k := range doc[f.ID] {
			if !slices.Contains(f.Declared, k) && !slices.Contains(samSelf, k) {
				out[f.ID] = append(out[f.ID], k)
			}
		}
		sort.Strings(out[f.ID])
		if len(out[f.ID]) == 0 {
			delete(out, f.ID)
		}
	}
	return out
}

// writeSAMEnv writes p's sam-env.json for the functions of the template at
// path from the stack's variables env, and returns the functions and what
// SAM would drop (see dropped).
func writeSAMEnv(p files, path string, env []string) ([]samFunction, map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fns, err := samFunctions(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	doc := samEnv(fns, env)
	out, _ := json.MarshalIndent(doc, "", "  ")
	if err := writeAtomic(p.samEnv, append(out, '\n')); err != nil {
		return nil, nil, err
	}
	return fns, dropped(fns, doc), nil
}

// defaultTemplate is the repository's template.yaml, or "" outside it.
func defaultTemplate() string {
	root, err := devstack.RepoRoot()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "template.yaml")
}

// reportSAMEnv says what writeSAMEnv wrote, and what SAM would drop.
func reportSAMEnv(w io.Writer, p files, fns []samFunction, drop map[string][]string) {
	ids := make([]string, len(fns))
	for i, f := range fns {
		ids[i] = f.ID
	}
	fmt.Fprintf(w, "devstack: wrote %s for sam local invoke (%s): make sam-invoke EVENT=events/<file>.json\n", p.samEnv, strings.Join(ids, ", "))
	// One line per distinct list of dropped variables, naming its functions.
	var lists []string
	by := map[string][]string{}
	for _, id := range ids {
		if d := drop[id]; len(d) > 0 {
			l := strings.Join(d, ", ")
			if by[l] == nil {
				lists = append(lists, l)
			}
			by[l] = append(by[l], id)
		}
	}
	for _, l := range lists {
		fmt.Fprintf(w, "devstack: sam local invoke would drop %s for %s: SAM passes a function only the variables its template "+
			"declares, and the template does not declare these (declare them empty in Globals.Function.Environment.Variables; "+
			"the AWS SDKs ignore an empty AWS_ENDPOINT_URL_<SERVICE>)\n", l, strings.Join(by[l], " and "))
	}
}

// samEnvCommand rewrites p's sam-env.json from the running stack and fails
// when SAM would drop an endpoint variable: the function would then call
// AWS's endpoints instead of the local stack's.
func samEnvCommand(p files, template string, stdout io.Writer) error {
	if running(p) == 0 {
		return fmt.Errorf("not running: start it with make devstack")
	}
	var st state
	b, err := os.ReadFile(p.state)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", p.state, err)
	}
	if template == "" {
		if template = defaultTemplate(); template == "" {
			return fmt.Errorf("no template.yaml found: pass -template")
		}
	}
	fns, drop, err := writeSAMEnv(p, template, st.Env)
	if err != nil {
		return err
	}
	reportSAMEnv(stdout, p, fns, drop)
	for _, id := range slices.Sorted(maps.Keys(drop)) {
		for _, v := range drop[id] {
			if strings.HasPrefix(v, "AWS_ENDPOINT_URL_") {
				return fmt.Errorf("sam local invoke %s would call AWS's endpoints, not the local stack's (with the dummy "+
					"credentials, which AWS refuses): %s does not declare %s for it", id, template, strings.Join(drop[id], ", "))
			}
		}
	}
	return nil
}
