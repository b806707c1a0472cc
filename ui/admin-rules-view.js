// Helpdesk Button: the admin window's rules editor as data: Python highlighting, offsets,
// diagnostics' kinds, and the example rules. Pure; admin.js wires them to the editor, and
// tests import them.

// ---- Python highlighting ---------------------------------------------------------------------

const PY_KEYWORDS = new Set(['and', 'as', 'assert', 'break', 'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield']);
const PY_CONSTANTS = new Set(['True', 'False', 'None']);
const PY_BUILTINS = new Set(['abs', 'all', 'any', 'bool', 'chr', 'dict', 'enumerate', 'filter', 'float', 'format', 'int', 'isinstance', 'len', 'list', 'map', 'max', 'min', 'ord', 'print', 'range', 'repr', 'reversed', 'round', 'set', 'sorted', 'str', 'sum', 'textwrap', 'tuple', 'wrap', 'zip']);
export const RULE_READ_ONLY = ['selections', 'hostname', 'name', 'email', 'ip', 'mac', 'username', 'os', 'input_name', 'input_email', 'input_phone'];
export const RULE_READ_WRITE = ['priority', 'type', 'impact', 'status', 'subject', 'msg', 'append'];
const RULE_RW_NAMES = new Set([...RULE_READ_WRITE, 'message', 'exception']);
const RULE_RO_NAMES = new Set(RULE_READ_ONLY);

const TOKEN_RES = [
  ['com', /#[^\n]*/y],
  ['str', /(?:[rRbBuUfF]{1,2})?(?:'''[\s\S]*?(?:'''|$(?![\s\S]))|"""[\s\S]*?(?:"""|$(?![\s\S])))/y],
  ['str', /(?:[rRbBuUfF]{1,2})?(?:'(?:\\.|[^'\\\n])*'?|"(?:\\.|[^"\\\n])*"?)/y],
  ['num', /(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?j?)/y],
  ['id', /[A-Za-z_][A-Za-z0-9_]*/y],
  ['op', /(?:\*\*|\/\/|[-+*/%@&|^~<>!]=?|==|=|:=)/y],
  ['ws', /[ \t]+/y],
  ['nl', /\r?\n/y],
];

/** Python source as [{cls, text}] tokens (cls '' for plain text); concatenated they give `src`. */
export function tokenizePython(src) {
  const s = String(src);
  const out = [];
  let i = 0;
  let prevWord = '';
  while (i < s.length) {
    let matched = false;
    for (const [kind, re] of TOKEN_RES) {
      re.lastIndex = i;
      const m = re.exec(s);
      if (!m || m[0].length === 0) continue;
      const text = m[0];
      let cls = '';
      if (kind === 'com') cls = 'com';
      else if (kind === 'str') cls = 'str';
      else if (kind === 'num') cls = 'num';
      else if (kind === 'op') cls = 'op';
      else if (kind === 'id') {
        if (prevWord === 'def' || prevWord === 'class') cls = 'def';
        else if (PY_KEYWORDS.has(text)) cls = 'kw';
        else if (PY_CONSTANTS.has(text)) cls = 'const';
        else if (RULE_RW_NAMES.has(text)) cls = 'var';
        else if (RULE_RO_NAMES.has(text)) cls = 'ro';
        else if (PY_BUILTINS.has(text)) cls = 'bi';
      }
      // A name after a dot is an attribute (`.lower`, `.type`), never a keyword or variable.
      if (kind === 'id' && cls && cls !== 'kw' && cls !== 'const' && out.length && out[out.length - 1].text === '.') cls = '';
      if (kind === 'id') prevWord = text; else if (kind !== 'ws') prevWord = '';
      out.push({ cls, text });
      i += text.length;
      matched = true;
      break;
    }
    if (!matched) { out.push({ cls: '', text: s[i] }); prevWord = ''; i += 1; }
  }
  return out;
}

/** The tokens split into lines: [[{cls, text}]] (one entry per "\n"-separated line). */
export function highlightLines(src) {
  const lines = [[]];
  for (const tok of tokenizePython(src)) {
    const pieces = tok.text.split(/\r?\n/);
    pieces.forEach((piece, k) => {
      if (k > 0) lines.push([]);
      if (piece) lines[lines.length - 1].push({ cls: tok.cls, text: piece });
    });
  }
  return lines;
}

/** The character offset of a 1-based line and column in `text` (clamped). */
export function offsetOf(text, line, column) {
  const lines = String(text).split('\n');
  const l = Math.max(1, Math.min(Number(line) || 1, lines.length));
  let off = 0;
  for (let i = 0; i < l - 1; i += 1) off += lines[i].length + 1;
  return off + Math.max(0, Math.min((Number(column) || 1) - 1, lines[l - 1].length));
}

/** A diagnostic kind ("Syntax", "read_only", ...) as {id, label, severity}. */
export function diagnosticKind(kind) {
  const id = String(kind || '').toLowerCase().replace(/[^a-z]/g, '');
  switch (id) {
    case 'syntax': return { id, label: 'Syntax error', severity: 'error' };
    case 'runtime': return { id, label: 'Error', severity: 'error' };
    case 'limit': return { id, label: 'Limit', severity: 'error' };
    case 'readonly': return { id, label: 'Read-only', severity: 'warning' };
    case 'lint': return { id, label: 'Hint', severity: 'hint' };
    default: return { id, label: 'Note', severity: 'warning' };
  }
}

// ---- the examples ------------------------------------------------------------------------------

export const EXAMPLES = [
  {
    id: 'emergency',
    title: 'Emergency escalation',
    desc: 'The "This is an emergency" box makes the ticket Critical and flags the subject.',
    code: `# Emergency escalation: the "This is an emergency" box makes the ticket
# Critical and flags the subject, so technicians see it first.
if 'This is an emergency' in selections:
    priority = 'Critical'
    impact = 'Major'
    if not subject.startswith('**EMERGENCY**'):
        subject = '**EMERGENCY** ' + subject
`,
  },
  {
    id: 'vip',
    title: 'VIP users',
    desc: 'Tickets from a list of people are always Critical.',
    code: `# VIP users: tickets from these people are always Critical.
VIP_EMAILS = [
    'ceo@contoso.com',
    'cfo@contoso.com',
    'reception@contoso.com',
]
if email.strip().lower() in VIP_EMAILS:
    priority = 'Critical'
    note = 'VIP user: please respond first.'
    append = append + '\\n' + note if append else note
`,
  },
  {
    id: 'domain',
    title: 'Email-domain routing',
    desc: "Sets the type and adds a note by the sender's email domain.",
    code: `# Email-domain routing: the sender's domain decides the type and adds a note
# for the technician.
domain = ''
if '@' in email:
    domain = email.split('@')[-1].strip().lower()

ROUTES = {
    'fabrikam.com': ['Request', 'Customer: Fabrikam (on-site contract).'],
    'contoso.com': ['Incident', 'Customer: Contoso (remote support only).'],
}
if domain in ROUTES:
    type = ROUTES[domain][0]
    note = ROUTES[domain][1]
    append = append + '\\n' + note if append else note
elif domain == '':
    note = 'No email address: check who this is before replying.'
    append = append + '\\n' + note if append else note
`,
  },
  {
    id: 'matrix',
    title: 'Impact × urgency matrix',
    desc: 'Two choice groups decide the impact and the priority.',
    code: `# Impact x urgency matrix: "Who is affected?" gives the impact and
# "Can you still work?" the urgency; together they give the priority.
# Add a choice group "Can you still work?" with the three options below
# in the Form section.
if 'Everyone here' in selections:
    impact = 'SiteDown'
elif 'Several people' in selections:
    impact = 'Major'
else:
    impact = 'Minor'

if 'No, not at all' in selections:
    urgency = 'high'
elif 'Yes, but slowly' in selections:
    urgency = 'medium'
else:
    urgency = 'low'

MATRIX = {
    'SiteDown': {'high': 'Critical', 'medium': 'Critical', 'low': 'High'},
    'Major': {'high': 'High', 'medium': 'High', 'low': 'Medium'},
    'Minor': {'high': 'High', 'medium': 'Medium', 'low': 'Low'},
}
priority = MATRIX[impact][urgency]
`,
  },
  {
    id: 'shouting',
    title: 'Shouting detection',
    desc: 'A message written mostly in capitals gets priority High and a note.',
    code: `# Shouting detection: a message written mostly in capital letters suggests
# an upset user. Raise the priority and tell the technician.
letters = [c for c in msg if c.isalpha()]
if len(letters) >= 12:
    upper = sum(1 for c in letters if c.isupper())
    if upper / len(letters) > 0.7:
        priority = 'High'
        note = 'The user wrote in capitals: they may be upset. Call them first.'
        append = append + '\\n' + note if append else note
`,
  },
];
