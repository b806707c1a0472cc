# Built-ins for dispatcher rules, run by the rules engine before each script (see prelude.rs).
# Names starting with `_hb_` are private. Keep this file free of `%` formatting, `del` and
# decorators: monty does not support them.


def format(value, format_spec=''):
    return ('{:' + format_spec + '}').format(value)


def _hb_pct_format(fmt, args):
    if not isinstance(fmt, str):
        return fmt % args
    if isinstance(args, tuple):
        values = list(args)
    else:
        values = [args]
    is_mapping = isinstance(args, dict)
    out = []
    used = 0
    used_key = False
    n = len(fmt)
    i = 0
    while i < n:
        if fmt[i] != '%':
            j = fmt.find('%', i)
            if j < 0:
                j = n
            out.append(fmt[i:j])
            i = j
            continue
        i += 1
        if i >= n:
            raise ValueError('incomplete format')
        key = None
        if fmt[i] == '(':
            j = fmt.find(')', i)
            if j < 0:
                raise ValueError('incomplete format key')
            key = fmt[i + 1:j]
            i = j + 1
        flags = ''
        while i < n and fmt[i] in '-+ #0':
            flags += fmt[i]
            i += 1
        width = ''
        if i < n and fmt[i] == '*':
            if used >= len(values):
                raise TypeError('not enough arguments for format string')
            width = str(int(values[used]))
            used += 1
            i += 1
            if width.startswith('-'):
                flags += '-'
                width = width[1:]
        while i < n and fmt[i].isdigit():
            width += fmt[i]
            i += 1
        precision = None
        if i < n and fmt[i] == '.':
            i += 1
            precision = ''
            if i < n and fmt[i] == '*':
                if used >= len(values):
                    raise TypeError('not enough arguments for format string')
                precision = str(int(values[used]))
                used += 1
                i += 1
            while i < n and fmt[i].isdigit():
                precision += fmt[i]
                i += 1
            if precision == '':
                precision = '0'
        while i < n and fmt[i] in 'hlL':
            i += 1
        if i >= n:
            raise ValueError('incomplete format')
        conv = fmt[i]
        i += 1
        if conv == '%':
            out.append('%')
            continue
        if key is not None:
            if not is_mapping:
                raise TypeError('format requires a mapping')
            value = args[key]
            used_key = True
        else:
            if used >= len(values):
                raise TypeError('not enough arguments for format string')
            value = values[used]
            used += 1
        left = '-' in flags
        if conv in 'sra':
            if conv == 's':
                text = str(value)
            else:
                text = repr(value)
            if precision is not None:
                text = text[:int(precision)]
            if left:
                out.append(text.ljust(int(width or '0')))
            else:
                out.append(text.rjust(int(width or '0')))
            continue
        if conv == 'c':
            if isinstance(value, int):
                value = chr(value)
            out.append(('{:' + ('<' if left else '>') + width + '}').format(value))
            continue
        spec = ''
        if left:
            spec += '<'
        if '+' in flags:
            spec += '+'
        elif ' ' in flags:
            spec += ' '
        if '#' in flags:
            spec += '#'
        if '0' in flags and not left:
            spec += '0'
        spec += width
        if conv in 'diu':
            if isinstance(value, str):
                raise TypeError('%' + conv + ' format: a real number is required, not str')
            out.append(('{:' + spec + 'd}').format(int(value)))
        elif conv in 'xXo':
            if isinstance(value, str) or isinstance(value, float):
                raise TypeError('%' + conv + ' format: an integer is required, not ' + type(value).__name__)
            out.append(('{:' + spec + conv + '}').format(value))
        elif conv in 'eEfFgG':
            if isinstance(value, str):
                raise TypeError('must be real number, not str')
            if precision is not None:
                spec += '.' + precision
            out.append(('{:' + spec + conv + '}').format(float(value)))
        else:
            raise ValueError('unsupported format character ' + repr(conv))
    if used < len(values) and not is_mapping and not used_key:
        raise TypeError('not all arguments converted during string formatting')
    return ''.join(out)


class _hb_TextWrapper:
    def __init__(self, width=70, initial_indent='', subsequent_indent='', expand_tabs=True,
                 replace_whitespace=True, fix_sentence_endings=False, break_long_words=True,
                 drop_whitespace=True, break_on_hyphens=True, tabsize=8, max_lines=None,
                 placeholder=' [...]'):
        self.width = width
        self.initial_indent = initial_indent
        self.subsequent_indent = subsequent_indent
        self.expand_tabs = expand_tabs
        self.replace_whitespace = replace_whitespace
        self.fix_sentence_endings = fix_sentence_endings
        self.break_long_words = break_long_words
        self.drop_whitespace = drop_whitespace
        self.break_on_hyphens = break_on_hyphens
        self.tabsize = tabsize
        self.max_lines = max_lines
        self.placeholder = placeholder

    def _munge_whitespace(self, text):
        if self.expand_tabs:
            text = text.expandtabs(self.tabsize)
        if self.replace_whitespace:
            for c in '\t\n\x0b\x0c\r':
                text = text.replace(c, ' ')
        return text

    def _split(self, text):
        ws = '\t\n\x0b\x0c\r '
        chunks = []
        n = len(text)
        i = 0
        while i < n:
            c = text[i]
            if c in ws:
                j = i + 1
                while j < n and text[j] in ws:
                    j += 1
                chunks.append(text[i:j])
                i = j
                continue
            if not self.break_on_hyphens:
                j = i + 1
                while j < n and text[j] not in ws:
                    j += 1
                chunks.append(text[i:j])
                i = j
                continue
            if c == '-' and i > 0 and _hb_tw_punct(text[i - 1]):
                j = i
                while j < n and text[j] == '-':
                    j += 1
                if j - i >= 2 and j < n and _hb_tw_word(text[j]):
                    chunks.append(text[i:j])
                    i = j
                    continue
            j = i + 1
            while True:
                if j >= n or text[j] in ws:
                    break
                if text[j] == '-':
                    if ((j >= 2 and _hb_tw_letter(text[j - 2]) and _hb_tw_letter(text[j - 1]))
                            or (j >= 3 and _hb_tw_letter(text[j - 3]) and text[j - 2] == '-'
                                and _hb_tw_letter(text[j - 1]))):
                        if j + 1 < n and _hb_tw_letter(text[j + 1]) and (
                                (j + 2 < n and _hb_tw_letter(text[j + 2]))
                                or (j + 3 < n and text[j + 2] == '-' and _hb_tw_letter(text[j + 3]))):
                            j += 1
                            break
                    if _hb_tw_punct(text[j - 1]) and j + 1 < n and text[j + 1] == '-':
                        k = j
                        while k < n and text[k] == '-':
                            k += 1
                        if k < n and _hb_tw_word(text[k]):
                            break
                j += 1
            chunks.append(text[i:j])
            i = j
        return chunks

    def _handle_long_word(self, reversed_chunks, cur_line, cur_len, width):
        if width < 1:
            space_left = 1
        else:
            space_left = width - cur_len
        if self.break_long_words:
            end = space_left
            chunk = reversed_chunks[-1]
            if self.break_on_hyphens and len(chunk) > space_left:
                hyphen = chunk.rfind('-', 0, space_left)
                if hyphen > 0 and any(c != '-' for c in chunk[:hyphen]):
                    end = hyphen + 1
            cur_line.append(chunk[:end])
            reversed_chunks[-1] = chunk[end:]
        elif not cur_line:
            cur_line.append(reversed_chunks.pop())

    def _wrap_chunks(self, chunks):
        lines = []
        if self.width <= 0:
            raise ValueError('invalid width ' + repr(self.width) + ' (must be > 0)')
        if self.max_lines is not None:
            if self.max_lines > 1:
                indent = self.subsequent_indent
            else:
                indent = self.initial_indent
            if len(indent) + len(self.placeholder.lstrip()) > self.width:
                raise ValueError('placeholder too large for max width')
        chunks.reverse()
        while chunks:
            cur_line = []
            cur_len = 0
            if lines:
                indent = self.subsequent_indent
            else:
                indent = self.initial_indent
            width = self.width - len(indent)
            if self.drop_whitespace and chunks[-1].strip() == '' and lines:
                chunks.pop()
            while chunks:
                l = len(chunks[-1])
                if cur_len + l <= width:
                    cur_line.append(chunks.pop())
                    cur_len += l
                else:
                    break
            if chunks and len(chunks[-1]) > width:
                self._handle_long_word(chunks, cur_line, cur_len, width)
                cur_len = sum(len(c) for c in cur_line)
            if self.drop_whitespace and cur_line and cur_line[-1].strip() == '':
                cur_len -= len(cur_line[-1])
                cur_line.pop()
            if cur_line:
                if (self.max_lines is None or len(lines) + 1 < self.max_lines
                        or (not chunks or self.drop_whitespace and len(chunks) == 1
                            and not chunks[0].strip()) and cur_len <= width):
                    lines.append(indent + ''.join(cur_line))
                else:
                    done = False
                    while cur_line:
                        if cur_line[-1].strip() and cur_len + len(self.placeholder) <= width:
                            cur_line.append(self.placeholder)
                            lines.append(indent + ''.join(cur_line))
                            done = True
                            break
                        cur_len -= len(cur_line[-1])
                        cur_line.pop()
                    if not done:
                        if lines:
                            prev_line = lines[-1].rstrip()
                            if len(prev_line) + len(self.placeholder) <= self.width:
                                lines[-1] = prev_line + self.placeholder
                                break
                        lines.append(indent + self.placeholder.lstrip())
                    break
        return lines

    def wrap(self, text):
        return self._wrap_chunks(self._split(self._munge_whitespace(text)))

    def fill(self, text):
        return '\n'.join(self.wrap(text))


def _hb_tw_letter(c):
    return c.isalpha() or c == '_'


def _hb_tw_word(c):
    return c.isalnum() or c == '_'


def _hb_tw_punct(c):
    return _hb_tw_word(c) or c in '!"\'&.,?'


def _hb_tw_wrap(text, width=70, initial_indent='', subsequent_indent='', expand_tabs=True,
             replace_whitespace=True, fix_sentence_endings=False, break_long_words=True,
             drop_whitespace=True, break_on_hyphens=True, tabsize=8, max_lines=None,
             placeholder=' [...]'):
    w = _hb_TextWrapper(width, initial_indent, subsequent_indent, expand_tabs, replace_whitespace,
                     fix_sentence_endings, break_long_words, drop_whitespace, break_on_hyphens,
                     tabsize, max_lines, placeholder)
    return w.wrap(text)


def _hb_tw_fill(text, width=70, initial_indent='', subsequent_indent='', expand_tabs=True,
             replace_whitespace=True, fix_sentence_endings=False, break_long_words=True,
             drop_whitespace=True, break_on_hyphens=True, tabsize=8, max_lines=None,
             placeholder=' [...]'):
    w = _hb_TextWrapper(width, initial_indent, subsequent_indent, expand_tabs, replace_whitespace,
                     fix_sentence_endings, break_long_words, drop_whitespace, break_on_hyphens,
                     tabsize, max_lines, placeholder)
    return w.fill(text)


def _hb_tw_shorten(text, width, initial_indent='', subsequent_indent='', expand_tabs=True,
                replace_whitespace=True, fix_sentence_endings=False, break_long_words=True,
                drop_whitespace=True, break_on_hyphens=True, tabsize=8, placeholder=' [...]'):
    w = _hb_TextWrapper(width, initial_indent, subsequent_indent, expand_tabs, replace_whitespace,
                     fix_sentence_endings, break_long_words, drop_whitespace, break_on_hyphens,
                     tabsize, 1, placeholder)
    return w.fill(' '.join(text.strip().split()))


def _hb_tw_dedent(text):
    lines = text.split('\n')
    margin = None
    for line in lines:
        stripped = line.lstrip(' \t')
        if not stripped:
            continue
        indent = line[:len(line) - len(stripped)]
        if margin is None:
            margin = indent
        else:
            k = 0
            while k < len(margin) and k < len(indent) and margin[k] == indent[k]:
                k += 1
            margin = margin[:k]
    out = []
    for line in lines:
        if not line.strip(' \t'):
            out.append('')
        elif margin:
            out.append(line[len(margin):])
        else:
            out.append(line)
    return '\n'.join(out)


def _hb_tw_indent(text, prefix):
    out = []
    for line in text.splitlines(True):
        if line.strip():
            out.append(prefix + line)
        else:
            out.append(line)
    return ''.join(out)


class textwrap:
    TextWrapper = _hb_TextWrapper
    wrap = _hb_tw_wrap
    fill = _hb_tw_fill
    shorten = _hb_tw_shorten
    dedent = _hb_tw_dedent
    indent = _hb_tw_indent


wrap = _hb_tw_wrap
