package normalize_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dittocache/ditto/cachekey"
	"github.com/dittocache/ditto/normalize"
)

// The property test generates requests as a set of choices (genReq), and
// derives two things from each independently:
//
//   - an oracle: a plain-text description of what the request asks a
//     provider, written from the documented rules (defaults folded, sets
//     sorted), not from the package's code;
//   - a JSON body, spelled at random: member order, whitespace, string
//     escapes and number spellings all vary.
//
// Over thousands of requests, equal oracles must give equal keys (no
// needless miss) and different oracles different keys (no false hit), and
// mutating any one response-shaping field must change the key.

// jv is a JSON value to render with random spelling.
type jv struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'l' literal
	obj  []jm
	arr  []*jv
	s    string // string value, canonical decimal, or literal
	keep bool   // object whose member order is significant (schema "properties")
}

type jm struct {
	k string
	v *jv
}

func obj(kv ...any) *jv {
	v := &jv{kind: 'o'}
	for i := 0; i < len(kv); i += 2 {
		v.obj = append(v.obj, jm{kv[i].(string), kv[i+1].(*jv)})
	}
	return v
}

func props(kv ...any) *jv  { v := obj(kv...); v.keep = true; return v }
func arr(items ...*jv) *jv { return &jv{kind: 'a', arr: items} }
func str(s string) *jv     { return &jv{kind: 's', s: s} }
func num(d string) *jv     { return &jv{kind: 'n', s: d} }
func lit(s string) *jv     { return &jv{kind: 'l', s: s} }
func strs(ss ...string) *jv {
	v := &jv{kind: 'a'}
	for _, s := range ss {
		v.arr = append(v.arr, str(s))
	}
	return v
}

// render writes v as JSON, spelled at random.
func render(b *strings.Builder, v *jv, rng *rand.Rand) {
	ws := func() {
		if rng.IntN(3) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "\r\n  ", "  "}[rng.IntN(5)])
		}
	}
	ws()
	switch v.kind {
	case 'o':
		order := make([]int, len(v.obj))
		for i := range order {
			order[i] = i
		}
		if !v.keep {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		b.WriteByte('{')
		for n, i := range order {
			if n > 0 {
				b.WriteByte(',')
			}
			ws()
			renderString(b, v.obj[i].k, rng)
			ws()
			b.WriteByte(':')
			render(b, v.obj[i].v, rng)
		}
		ws()
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			render(b, e, rng)
		}
		ws()
		b.WriteByte(']')
	case 's':
		renderString(b, v.s, rng)
	case 'n':
		b.WriteString(spellNumber(v.s, rng))
	default:
		b.WriteString(v.s)
	}
	ws()
}

// renderString escapes s, choosing at random between equivalent escapes.
func renderString(b *strings.Builder, s string, rng *rand.Rand) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || rng.IntN(6) == 0:
			if r > 0xFFFF {
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(b, `\u%04x\u%04X`, r1, r2)
			} else if rng.IntN(2) == 0 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				fmt.Fprintf(b, `\u%04X`, r)
			}
		case r == '/' && rng.IntN(2) == 0:
			b.WriteString(`\/`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

// spellNumber writes the decimal d (e.g. "40", "-0.25") in a random
// equivalent JSON spelling: trailing zeros, exponents, a moved point.
func spellNumber(d string, rng *rand.Rand) string {
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	ip, fp, _ := strings.Cut(d, ".")
	digits, point := ip+fp, len(ip)
	shift := rng.IntN(5) - 2 // value = digits[:point'].digits[point':] × 10^shift
	point -= shift
	for point > len(digits) {
		digits += "0"
	}
	for point < 1 {
		digits = "0" + digits
		point++
	}
	ip, fp = strings.TrimLeft(digits[:point], "0"), digits[point:]
	if ip == "" {
		ip = "0"
	}
	fp += strings.Repeat("0", rng.IntN(2))
	var b strings.Builder
	if neg && (rng.IntN(2) == 0 || strings.Trim(ip+fp, "0") != "") {
		b.WriteByte('-')
	}
	b.WriteString(ip)
	if fp != "" {
		b.WriteString("." + fp)
	}
	if shift != 0 || rng.IntN(4) == 0 {
		b.WriteString([]string{"e", "E"}[rng.IntN(2)])
		if shift >= 0 && rng.IntN(2) == 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(shift))
	}
	return b.String()
}

// genMsg and genReq are the generator's choices.
type genMsg struct {
	role       string
	name       int // 0 absent, 1 null, 2 "alice", 3 "bob"
	text       string
	form       int // 0 string, 1 one text part, 2 text + image, 3 two text parts
	img        int // image choice for form 2
	detail     int // 0 absent, 1 "auto", 2 "high"
	nullText   int // assistant with calls: 0 text, 1 null, 2 "", 3 absent
	calls      []int
	args       int
	toolCallID string
}

type genReq struct {
	msgs                                   []genMsg
	temperature, topP, presence, frequency int
	n, maxTok, maxField, seed, stop        int
	logprobs, topLogprobs                  int
	tools, toolChoice, parallel            int
	respFormat, reasoning, topK            int
	noise                                  int
}

var (
	texts   = []string{"hi", "Hi", "hi ", "a  b", "a b", "café", "cafe\u0301", "😀 ok", "", "line\nbreak", `quote"s`, `back\slash`, "a/b", "\u2028x", "tab\t"}
	images  = []string{"https://x.test/a.png", "https://x.test/b.png", png1, png2}
	argsSet = []string{"{}", `{"a":1}`, `{"a": 1}`}
	roles   = []string{"system", "developer", "user", "assistant"}

	floatChoices = []string{"", "null", "0", "0.5", "1", "1.5", "-0.25"}
	stopChoices  = []string{"", "null", `""`, `"x"`, `["x"]`, `["x","y"]`, `["y","x"]`, `["y","x","x"]`, `[]`}
)

type field struct {
	name string
	roll func(g *genReq, rng *rand.Rand)
}

// fields are the response-shaping choices, one mutation target each.
var fields = []field{
	{"messages.add", func(g *genReq, rng *rand.Rand) { g.msgs = append(g.msgs, genMessage(rng)) }},
	{"messages.drop", func(g *genReq, rng *rand.Rand) {
		if len(g.msgs) > 1 {
			i := rng.IntN(len(g.msgs))
			g.msgs = slices.Delete(g.msgs, i, i+1)
		}
	}},
	{"messages.swap", func(g *genReq, rng *rand.Rand) {
		if len(g.msgs) > 1 {
			i := rng.IntN(len(g.msgs) - 1)
			g.msgs[i], g.msgs[i+1] = g.msgs[i+1], g.msgs[i]
		}
	}},
	{"message.role", func(g *genReq, rng *rand.Rand) { m := &g.msgs[rng.IntN(len(g.msgs))]; m.role = roles[rng.IntN(4)] }},
	{"message.name", func(g *genReq, rng *rand.Rand) { g.msgs[rng.IntN(len(g.msgs))].name = rng.IntN(4) }},
	{"message.text", func(g *genReq, rng *rand.Rand) { g.msgs[rng.IntN(len(g.msgs))].text = texts[rng.IntN(len(texts))] }},
	{"message.form", func(g *genReq, rng *rand.Rand) { g.msgs[rng.IntN(len(g.msgs))].form = rng.IntN(4) }},
	{"message.image", func(g *genReq, rng *rand.Rand) {
		m := &g.msgs[rng.IntN(len(g.msgs))]
		m.img, m.detail = rng.IntN(len(images)), rng.IntN(3)
	}},
	{"message.calls", func(g *genReq, rng *rand.Rand) {
		m := &g.msgs[rng.IntN(len(g.msgs))]
		m.calls, m.args, m.nullText = genCalls(rng), rng.IntN(len(argsSet)), rng.IntN(4)
	}},
	{"message.tool_result", func(g *genReq, rng *rand.Rand) {
		g.msgs = append(g.msgs, genMsg{role: "tool", toolCallID: []string{"call_1", "call_2"}[rng.IntN(2)], text: texts[rng.IntN(len(texts))], form: rng.IntN(2)})
	}},
	{"temperature", func(g *genReq, rng *rand.Rand) { g.temperature = rng.IntN(len(floatChoices)) }},
	{"top_p", func(g *genReq, rng *rand.Rand) { g.topP = rng.IntN(len(floatChoices)) }},
	{"presence_penalty", func(g *genReq, rng *rand.Rand) { g.presence = rng.IntN(len(floatChoices)) }},
	{"frequency_penalty", func(g *genReq, rng *rand.Rand) { g.frequency = rng.IntN(len(floatChoices)) }},
	{"n", func(g *genReq, rng *rand.Rand) { g.n = rng.IntN(4) }},
	{"max_tokens", func(g *genReq, rng *rand.Rand) { g.maxTok = rng.IntN(3) }},
	{"seed", func(g *genReq, rng *rand.Rand) { g.seed = rng.IntN(4) }},
	{"stop", func(g *genReq, rng *rand.Rand) { g.stop = rng.IntN(len(stopChoices)) }},
	{"logprobs", func(g *genReq, rng *rand.Rand) { g.logprobs, g.topLogprobs = rng.IntN(3), rng.IntN(3) }},
	{"tools", func(g *genReq, rng *rand.Rand) { g.tools = rng.IntN(6) }},
	{"tool_choice", func(g *genReq, rng *rand.Rand) { g.toolChoice = rng.IntN(6) }},
	{"parallel_tool_calls", func(g *genReq, rng *rand.Rand) { g.parallel = rng.IntN(3) }},
	{"response_format", func(g *genReq, rng *rand.Rand) { g.respFormat = rng.IntN(7) }},
	{"reasoning_effort", func(g *genReq, rng *rand.Rand) { g.reasoning = rng.IntN(3) }},
	{"unknown field", func(g *genReq, rng *rand.Rand) { g.topK = rng.IntN(4) }},
}

func genCalls(rng *rand.Rand) []int {
	switch rng.IntN(3) {
	case 0:
		return nil
	case 1:
		return []int{rng.IntN(2)}
	}
	return []int{0, 1}
}

func genMessage(rng *rand.Rand) genMsg {
	m := genMsg{role: roles[rng.IntN(4)], name: rng.IntN(4), text: texts[rng.IntN(len(texts))], form: rng.IntN(4), img: rng.IntN(len(images)), detail: rng.IntN(3)}
	if m.role == "assistant" && rng.IntN(2) == 0 {
		m.calls, m.args, m.nullText = genCalls(rng), rng.IntN(len(argsSet)), rng.IntN(4)
	}
	return m
}

func genRequest(rng *rand.Rand) genReq {
	g := genReq{noise: rng.IntN(8)}
	for range 1 + rng.IntN(3) {
		g.msgs = append(g.msgs, genMessage(rng))
	}
	for _, f := range fields[10:] { // every non-message field
		if rng.IntN(2) == 0 {
			f.roll(&g, rng)
		}
	}
	return g
}

func (g genReq) clone() genReq {
	g.msgs = slices.Clone(g.msgs)
	for i := range g.msgs {
		g.msgs[i].calls = slices.Clone(g.msgs[i].calls)
	}
	return g
}

var toolNames = []string{"get_weather", "search"}

func toolDef(name string, swapped bool) *jv {
	var p *jv
	if swapped {
		p = props("b", obj("type", str("integer")), "a", obj("type", str("string"), "enum", strs("x", "y")))
	} else {
		p = props("a", obj("type", str("string"), "enum", strs("x", "y")), "b", obj("type", str("integer")))
	}
	return obj("type", str("function"), "function", obj("name", str(name), "description", str("Tool "+name), "parameters", obj("type", str("object"), "properties", p, "required", strs("a"))))
}

// body renders g as a JSON request body.
func (g genReq) body(rng *rand.Rand) []byte {
	top := obj("model", str("gpt-4o"))
	var msgs []*jv
	for _, m := range g.msgs {
		mo := obj("role", str(m.role))
		switch m.name {
		case 1:
			mo.obj = append(mo.obj, jm{"name", lit("null")})
		case 2, 3:
			mo.obj = append(mo.obj, jm{"name", str([]string{"", "", "alice", "bob"}[m.name])})
		}
		if m.toolCallID != "" {
			mo.obj = append(mo.obj, jm{"tool_call_id", str(m.toolCallID)})
		}
		var content *jv
		switch m.form {
		case 0:
			content = str(m.text)
		case 1:
			content = arr(obj("type", str("text"), "text", str(m.text)))
		case 2:
			iu := obj("url", str(images[m.img]))
			if m.detail > 0 {
				iu.obj = append(iu.obj, jm{"detail", str([]string{"", "auto", "high"}[m.detail])})
			}
			content = arr(obj("type", str("text"), "text", str(m.text)), obj("type", str("image_url"), "image_url", iu))
		default:
			content = arr(obj("type", str("text"), "text", str(m.text)), obj("type", str("text"), "text", str("more")))
		}
		if len(m.calls) > 0 && m.role == "assistant" {
			var calls []*jv
			for _, c := range m.calls {
				calls = append(calls, obj("id", str("call_"+strconv.Itoa(c+1)), "type", str("function"), "function", obj("name", str(toolNames[c]), "arguments", str(argsSet[m.args]))))
			}
			mo.obj = append(mo.obj, jm{"tool_calls", arr(calls...)})
			switch m.nullText {
			case 1:
				content = lit("null")
			case 2:
				content = str("")
			case 3:
				content = nil
			}
		}
		if content != nil {
			mo.obj = append(mo.obj, jm{"content", content})
		}
		msgs = append(msgs, mo)
	}
	top.obj = append(top.obj, jm{"messages", arr(msgs...)})
	add := func(k string, v *jv) { top.obj = append(top.obj, jm{k, v}) }
	addFloat := func(k string, c int) {
		switch s := floatChoices[c]; s {
		case "":
		case "null":
			add(k, lit("null"))
		default:
			add(k, num(s))
		}
	}
	addFloat("temperature", g.temperature)
	addFloat("top_p", g.topP)
	addFloat("presence_penalty", g.presence)
	addFloat("frequency_penalty", g.frequency)
	if g.n > 0 {
		add("n", num(strconv.Itoa(g.n)))
	}
	if g.maxTok > 0 {
		v := strconv.Itoa(16 * g.maxTok)
		switch rng.IntN(3) { // all spellings are equivalent
		case 0:
			add("max_tokens", num(v))
		case 1:
			add("max_completion_tokens", num(v))
		default:
			add("max_tokens", num(v))
			add("max_completion_tokens", num(v))
		}
	}
	if g.seed > 0 {
		add("seed", num([]string{"", "0", "7", "-5"}[g.seed]))
	}
	switch s := stopChoices[g.stop]; {
	case s == "":
	case s == "null":
		add("stop", lit("null"))
	case strings.HasPrefix(s, "["):
		var ss []string
		for _, e := range strings.Split(strings.Trim(s, "[]"), ",") {
			if e != "" {
				ss = append(ss, strings.Trim(e, `"`))
			}
		}
		add("stop", strs(ss...))
	default:
		add("stop", str(strings.Trim(s, `"`)))
	}
	if g.logprobs > 0 {
		add("logprobs", lit(strconv.FormatBool(g.logprobs == 2)))
		if g.logprobs == 2 && g.topLogprobs > 0 {
			add("top_logprobs", num(strconv.Itoa(2*(g.topLogprobs-1))))
		}
	}
	switch g.tools {
	case 1:
		add("tools", arr())
	case 2:
		add("tools", arr(toolDef("get_weather", false)))
	case 3:
		add("tools", arr(toolDef("get_weather", false), toolDef("search", false)))
	case 4:
		add("tools", arr(toolDef("search", false), toolDef("get_weather", false)))
	case 5:
		add("tools", arr(toolDef("get_weather", true)))
	}
	switch g.toolChoice {
	case 1, 2, 3:
		add("tool_choice", str([]string{"", "auto", "none", "required"}[g.toolChoice]))
	case 4, 5:
		add("tool_choice", obj("type", str("function"), "function", obj("name", str(toolNames[g.toolChoice-4]))))
	}
	if g.parallel > 0 {
		add("parallel_tool_calls", lit(strconv.FormatBool(g.parallel == 2)))
	}
	schema := func(swapped bool) *jv {
		p := props("a", obj("type", str("string")), "b", obj("type", str("integer")))
		if swapped {
			p = props("b", obj("type", str("integer")), "a", obj("type", str("string")))
		}
		return obj("name", str("p"), "schema", obj("type", str("object"), "properties", p))
	}
	switch g.respFormat {
	case 1:
		add("response_format", obj("type", str("text")))
	case 2:
		add("response_format", obj("type", str("json_object")))
	case 3:
		add("response_format", obj("type", str("json_schema"), "json_schema", schema(false)))
	case 4:
		add("response_format", obj("type", str("json_schema"), "json_schema", schema(true)))
	case 5:
		s := schema(false)
		s.obj = append(s.obj, jm{"strict", lit("false")})
		add("response_format", obj("type", str("json_schema"), "json_schema", s))
	case 6:
		s := schema(false)
		s.obj = append(s.obj, jm{"strict", lit("true")})
		add("response_format", obj("type", str("json_schema"), "json_schema", s))
	}
	if g.reasoning > 0 {
		add("reasoning_effort", str([]string{"", "low", "high"}[g.reasoning]))
	}
	switch g.topK {
	case 1:
		add("top_k", lit("null"))
	case 2, 3:
		add("top_k", num(strconv.Itoa(38+g.topK)))
	}
	// Unkeyed noise, varying independently of everything above.
	if g.noise&1 != 0 {
		add("user", str("user-"+strconv.Itoa(rng.IntN(100))))
	}
	if g.noise&2 != 0 {
		add("metadata", obj("run", str(strconv.Itoa(rng.IntN(100)))))
	}
	if rng.IntN(2) == 0 {
		add("stream", lit("true"))
		add("stream_options", obj("include_usage", lit(strconv.FormatBool(rng.IntN(2) == 0))))
	}
	var b strings.Builder
	render(&b, top, rng)
	return []byte(b.String())
}

// oracle describes what g asks of a provider, from the documented rules.
func (g genReq) oracle() string {
	var o []string
	add := func(format string, args ...any) { o = append(o, fmt.Sprintf(format, args...)) }
	for _, m := range g.msgs {
		var b strings.Builder
		fmt.Fprintf(&b, "msg role=%s", m.role)
		if m.name >= 2 {
			fmt.Fprintf(&b, " name=%d", m.name)
		}
		if m.toolCallID != "" {
			fmt.Fprintf(&b, " tool_call_id=%s", m.toolCallID)
		}
		calls := m.role == "assistant" && len(m.calls) > 0
		content := ""
		switch m.form {
		case 0, 1:
			content = fmt.Sprintf("text(%q)", m.text)
		case 2:
			detail := []string{"", "", "high"}[m.detail]
			content = fmt.Sprintf("parts[text(%q) image(%s,%s)]", m.text, images[m.img], detail)
		default:
			content = fmt.Sprintf("parts[text(%q) text(\"more\")]", m.text)
		}
		if calls {
			if m.nullText != 0 || (m.form <= 1 && m.text == "") {
				content = "" // null, absent and "" content beside tool calls
			}
			fmt.Fprintf(&b, " calls=%v args=%d", m.calls, m.args)
		}
		b.WriteString(" content=" + content)
		o = append(o, b.String())
	}
	float := func(name string, c int, def string) {
		if s := floatChoices[c]; s != "" && s != "null" && s != def {
			add("%s=%s", name, s)
		}
	}
	float("temperature", g.temperature, "1")
	float("top_p", g.topP, "1")
	float("presence_penalty", g.presence, "0")
	float("frequency_penalty", g.frequency, "0")
	if g.n > 1 {
		add("n=%d", g.n)
	}
	if g.maxTok > 0 {
		add("max_tokens=%d", 16*g.maxTok)
	}
	if g.seed > 0 {
		add("seed=%d", g.seed)
	}
	var stop []string
	for _, r := range []string{"x", "y"} {
		if s := stopChoices[g.stop]; strings.Contains(s, `"`+r+`"`) {
			stop = append(stop, r)
		}
	}
	if len(stop) > 0 {
		add("stop=%v", stop)
	}
	if g.logprobs == 2 {
		add("logprobs")
		if g.topLogprobs > 0 {
			add("top_logprobs=%d", 2*(g.topLogprobs-1))
		}
	}
	hasTools := g.tools >= 2
	if hasTools {
		add("tools=%d", g.tools)
	}
	switch g.toolChoice {
	case 1:
		if !hasTools {
			add("tool_choice=auto")
		}
	case 2:
		if hasTools {
			add("tool_choice=none")
		}
	case 3:
		add("tool_choice=required")
	case 4, 5:
		add("tool_choice=%s", toolNames[g.toolChoice-4])
	}
	if g.parallel == 1 && hasTools {
		add("parallel_tool_calls=false")
	}
	switch g.respFormat {
	case 2:
		add("response_format=json_object")
	case 3, 5:
		add("response_format=schema_ab")
	case 4:
		add("response_format=schema_ba")
	case 6:
		add("response_format=schema_ab_strict")
	}
	if g.reasoning > 0 {
		add("reasoning_effort=%d", g.reasoning)
	}
	if g.topK >= 2 {
		add("top_k=%d", g.topK)
	}
	return strings.Join(o, "\n")
}

func TestPropertyKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260101, 3))
	n := 500
	if testing.Short() {
		n = 100
	}
	keyOf := func(g genReq) (cachekey.Key, []byte) {
		body := g.body(rng)
		r, err := normalize.DecodeOpenAI(body) // every generated request is valid
		if err != nil {
			t.Fatalf("DecodeOpenAI(%s) = %v", body, err)
		}
		return cachekey.New("default", "openai/gpt-4o", normalize.Canonical(r)), body
	}
	byKey := map[cachekey.Key]string{}
	byOracle := map[string]cachekey.Key{}
	check := func(g genReq) cachekey.Key {
		k, body := keyOf(g)
		o := g.oracle()
		if prev, ok := byKey[k]; ok && prev != o {
			t.Fatalf("collision: one key for\n%s\nand\n%s\nbody: %s", prev, o, body)
		}
		if prev, ok := byOracle[o]; ok && prev != k {
			t.Fatalf("needless miss: two keys for\n%s\nbody: %s", o, body)
		}
		byKey[k], byOracle[o] = o, k
		return k
	}
	mutated, equivalent := 0, 0
	for range n {
		g := genRequest(rng)
		k := check(g)
		// Respelling alone never changes the key.
		if k2 := check(g); k2 != k {
			t.Fatalf("respelled request changed key")
		}
		// Re-roll one field at a time: a roll that changes the oracle must
		// change the key, one that does not (an equivalent spelling such as
		// stop "x" for ["x"]) must keep it. check enforces both.
		og := g.oracle()
		for _, f := range fields {
			for range 3 {
				m := g.clone()
				f.roll(&m, rng)
				km := check(m)
				if m.oracle() == og {
					equivalent++
				} else {
					mutated++
				}
				if (m.oracle() == og) != (km == k) {
					t.Fatalf("re-rolling %s: oracle equal %v, key equal %v", f.name, m.oracle() == og, km == k)
				}
			}
		}
	}
	t.Logf("%d requests, %d distinct oracles, %d mutated and %d equivalent pairs, 0 collisions",
		n, len(byOracle), mutated, equivalent)
	if len(byKey) != len(byOracle) {
		t.Errorf("%d keys for %d oracles", len(byKey), len(byOracle))
	}
}
