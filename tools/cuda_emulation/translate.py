#!/usr/bin/env python3
"""Rewrites CUDA sources into host C++ for the SIMT emulator (simt.hpp).

    translate.py SOURCE_DIR OUTPUT_DIR

Mirrors SOURCE_DIR into OUTPUT_DIR: x.cu becomes x.cu.cpp and x.cuh stays x.cuh, both
rewritten; every other file is copied as it is, so relative #includes still resolve. A file
is only written when its content changes (the build then recompiles only what changed).

What a host compiler cannot take, and what it becomes:
  kernel<<<grid, block, shared, stream>>>(args)  simt::launch("file:line kernel", kernel,
                                                              simt::Config(grid, ...), args)
  cudaLaunchKernelEx(&config, kernel, args)     simt::launch_ex(&config, kernel, args)
  extern __shared__ T name[];                    T* name = simt::dynamic_shared<T>(align);
  __shared__ T a[N], b[M];                       per-block storage in the shared window
  asm volatile("ptx" : outputs : inputs);        calls into ptx.hpp, per instruction
  __launch_bounds__(n) on a kernel               a check of the block size at its start
  __grid_constant__ on a kernel parameter        dropped (parameters are by value already)
  reinterpret_cast<T*>(p)                        simt::aligned_cast<T*>(p): faults if misaligned
Translated files start with `#include "simt.hpp"` and a #line directive, so compiler errors
and the emulator's messages name the original file and line. A .cu file is compiled as
device code: __CUDACC__ and __CUDA_ARCH__ (900) are defined after the CUDA headers.
An asm instruction the table below does not know stops the translation with its text.
"""
import os
import re
import sys


class TranslationError(Exception):
    pass


def code_mask(text):
    """The text with comments and the insides of string and char literals blanked (same
    length, newlines kept), so that searches see only code."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            while i < n and text[i] != '\n':
                out[i] = ' '
                i += 1
        elif text.startswith('/*', i):
            end = text.find('*/', i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if text[j] != '\n':
                    out[j] = ' '
            i = end
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            for k in range(i + 1, min(j, n)):
                if text[k] != '\n':
                    out[k] = ' '
            i = j + 1
        else:
            i += 1
    return ''.join(out)


def matching(mask, start, open_char, close_char):
    """Index of the bracket closing the one at `start`."""
    depth = 0
    for i in range(start, len(mask)):
        if mask[i] == open_char:
            depth += 1
        elif mask[i] == close_char:
            depth -= 1
            if depth == 0:
                return i
    raise TranslationError(f'unbalanced {open_char} at offset {start}')


def split_top(text, mask, separator):
    """Splits text at separators outside brackets (positions found in mask)."""
    parts, depth, last = [], 0, 0
    for i, c in enumerate(mask):
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        elif c == separator and depth == 0:
            parts.append(text[last:i])
            last = i + 1
    parts.append(text[last:])
    return parts


def same_lines(original, replacement):
    """The replacement padded with newlines so that the lines after it keep their numbers."""
    missing = original.count('\n') - replacement.count('\n')
    if missing < 0:
        raise TranslationError('a replacement adds lines')
    return replacement + '\n' * missing


def line_of(text, offset):
    return text.count('\n', 0, offset) + 1


def rewrite(text, pattern, handler):
    """Applies handler(text, mask, match) -> (start, end, replacement) to every match of
    pattern in the code, from the last to the first."""
    mask = code_mask(text)
    edits = [handler(text, mask, m) for m in re.finditer(pattern, mask)]
    for start, end, replacement in sorted((e for e in edits if e), reverse=True):
        text = text[:start] + same_lines(text[start:end], replacement) + text[end:]
    return text


# ---- asm ---------------------------------------------------------------------------------

OPERAND = re.compile(r'\s*"([^"]*)"\s*\((.*)\)\s*$', re.S)


def operands(text, mask):
    if not text.strip():
        return []
    out = []
    for part, part_mask in zip(split_top(text, mask, ','), split_top(mask, mask, ',')):
        m = OPERAND.match(part)
        if not m:
            raise TranslationError(f'asm operand not understood: {part.strip()}')
        out.append(m.group(2).strip())
    return out


def unescape(literal):
    return literal.encode().decode('unicode_escape')


REG = r'(%\d+|\d+)'


def cp_async(m):
    kind, dst, src, size, src_size = m.groups()
    cg = 'true' if kind == 'cg' else 'false'
    return f'simt::ptx::cp_async({dst}, {src}, {size}, {src_size or size}, {cg})'


def wgmma(m):
    n, element, d, a, b, trans_a, trans_b = m.groups()
    accumulators = [r.strip() for r in d.split(',')]
    if len(accumulators) != int(n) // 2:
        raise TranslationError(f'wgmma m64n{n} takes {int(n) // 2} accumulators, not {len(accumulators)}')
    element = 'simt::ptx::Element::kF16' if element == 'f16' else 'simt::ptx::Element::kBF16'
    pointers = ', '.join(f'&{r}' for r in accumulators)
    if a.startswith('{'):  # A in registers: no trans-a
        a_regs, a_desc, trans_a = f'{{{a[1:-1]}}}', '0', '0'
        a_array = f'const uint32_t wgmma_a[4] = {a_regs}; '
        a_arg = 'wgmma_a'
    else:
        a_array, a_arg, a_desc = '', 'nullptr', a
    return (f'float* wgmma_d[] = {{{pointers}}}; {a_array}'
            f'simt::ptx::wgmma({element}, {n}, wgmma_d, {a_arg}, {a_desc}, {b}, p, {trans_a or 0}, {trans_b})')


def bulk_tensor(m):
    dims, dst, tensor_map, coords, bar = m.groups()
    coords = [c.strip() for c in coords.split(',')]
    if len(coords) != int(dims):
        raise TranslationError(f'a .{dims}d tensor copy takes {dims} coordinates, not {len(coords)}')
    return f'simt::ptx::cp_async_bulk_tensor({dst}, {tensor_map}, {bar}, {", ".join(coords)})'


INSTRUCTIONS = [
    (re.compile(r'cp\.async\.(ca|cg)\.shared(?:::cta)?\.global(?:\.L2::\d+B)?\s+\[(%\d+)\],\s*'
                r'\[(%\d+)\],\s*' + REG + r'(?:,\s*' + REG + r')?$'), cp_async),
    (re.compile(r'cp\.async\.commit_group$'), lambda m: 'simt::ptx::cp_async_commit()'),
    # Kernels here run one after another: a dependent grid starts after the one before it
    # has ended, so its wait has nothing to wait for.
    (re.compile(r'griddepcontrol\.(wait|launch_dependents)$'), lambda m: '(void)0'),
    (re.compile(r'cp\.async\.wait_group\s+' + REG + '$'),
     lambda m: f'simt::ptx::cp_async_wait_group({m.group(1)})'),
    (re.compile(r'cp\.async\.wait_all$'), lambda m: 'simt::ptx::cp_async_wait_group(0)'),
    (re.compile(r'ldmatrix\.sync\.aligned\.m8n8\.x(1|2|4)(\.trans)?\.shared(?:::cta)?\.b16\s+'
                r'\{([^}]*)\},\s*\[(%\d+)\]$'),
     lambda m: 'simt::ptx::ldmatrix<{}>({}, {})'.format(
         'true' if m.group(2) else 'false', m.group(4), m.group(3))),
    (re.compile(r'movmatrix\.sync\.aligned\.m8n8\.trans\.b16\s+(%\d+),\s*(%\d+)$'),
     lambda m: f'{m.group(1)} = simt::ptx::movmatrix_trans({m.group(2)})'),
    # wgmma (wgmma_ptx.cuh): the predicate scale-d set from a register, then the product.
    (re.compile(r'[{}]$'), lambda m: '(void)0'),
    (re.compile(r'\.reg\s+\.pred\s+p$'), lambda m: 'bool p'),
    (re.compile(r'setp\.ne\.b32\s+p,\s*(%\d+),\s*0$'), lambda m: f'p = ({m.group(1)}) != 0'),
    (re.compile(r'wgmma\.mma_async\.sync\.aligned\.m64n(\d+)k16\.f32\.(f16|bf16)\.(?:f16|bf16)\s+'
                r'\{([^}]*)\},\s*(%\d+|\{[^}]*\}),\s*(%\d+),\s*p,\s*1,\s*1,\s*(?:(\d),\s*)?(\d)$'),
     wgmma),
    (re.compile(r'wgmma\.fence\.sync\.aligned$'), lambda m: 'simt::ptx::wgmma_fence()'),
    (re.compile(r'wgmma\.commit_group\.sync\.aligned$'), lambda m: 'simt::ptx::wgmma_commit()'),
    (re.compile(r'wgmma\.wait_group\.sync\.aligned\s+' + REG + '$'),
     lambda m: f'simt::ptx::wgmma_wait({m.group(1)})'),
    (re.compile(r'fence\.proxy\.async\.shared::cta$'), lambda m: 'simt::ptx::fence_proxy_async()'),
    (re.compile(r'ex2\.approx\.ftz\.f32\s+(%\d+),\s*(%\d+)$'),
     lambda m: f'{m.group(1)} = simt::ptx::ex2_approx_ftz({m.group(2)})'),
    # mbarriers, named barriers, register reallocation (async_barrier_ptx.cuh).
    (re.compile(r'mbarrier\.init\.shared(?:::cta)?\.b64\s+\[(%\d+)\],\s*' + REG + '$'),
     lambda m: f'simt::ptx::mbarrier_init({m.group(1)}, {m.group(2)})'),
    (re.compile(r'mbarrier\.arrive\.shared(?:::cta)?\.b64\s+_,\s*\[(%\d+)\]$'),
     lambda m: f'simt::ptx::mbarrier_arrive({m.group(1)})'),
    (re.compile(r'mbarrier\.try_wait\.parity\.shared(?:::cta)?\.b64\s+p,\s*\[(%\d+)\],\s*' + REG + '$'),
     lambda m: f'p = simt::ptx::mbarrier_try_wait_parity({m.group(1)}, {m.group(2)})'),
    (re.compile(r'selp\.u32\s+(%\d+),\s*1,\s*0,\s*p$'), lambda m: f'{m.group(1)} = p ? 1u : 0u'),
    (re.compile(r'cp\.async\.mbarrier\.arrive\.noinc\.shared(?:::cta)?\.b64\s+\[(%\d+)\]$'),
     lambda m: f'simt::ptx::cp_async_mbarrier_arrive({m.group(1)})'),
    # Bulk and tensor (TMA) copies completing their bytes on an mbarrier (bulk_copy_ptx.cuh).
    (re.compile(r'mbarrier\.arrive\.expect_tx\.shared(?:::cta)?\.b64\s+_,\s*\[(%\d+)\],\s*' + REG + '$'),
     lambda m: f'simt::ptx::mbarrier_arrive_expect_tx({m.group(1)}, {m.group(2)})'),
    (re.compile(r'fence\.mbarrier_init\.release\.cluster$'), lambda m: 'simt::ptx::fence_mbarrier_init()'),
    # An L2 eviction policy (createpolicy) only orders what leaves L2 first: nothing to emulate.
    (re.compile(r'createpolicy\.fractional\.L2::evict_\w+\.b64\s+(%\d+)(?:,\s*[\d.]+)?$'),
     lambda m: f'{m.group(1)} = 0'),
    (re.compile(r'cp\.async\.bulk\.shared::cluster\.global\.mbarrier::complete_tx::bytes(?:\.L2::cache_hint)?'
                r'\s+\[(%\d+)\],\s*\[(%\d+)\],\s*' + REG + r',\s*\[(%\d+)\](?:,\s*%\d+)?$'),
     lambda m: 'simt::ptx::cp_async_bulk({}, simt::ptx::generic_address({}), {}, {})'.format(*m.groups())),
    (re.compile(r'cp\.async\.bulk\.tensor\.([1-5])d\.shared::cluster\.global(?:\.tile)?'
                r'\.mbarrier::complete_tx::bytes(?:\.L2::cache_hint)?\s+\[(%\d+)\],\s*\[(%\d+),\s*\{([^}]*)\}\],'
                r'\s*\[(%\d+)\](?:,\s*%\d+)?$'),
     bulk_tensor),
    (re.compile(r'bar\.(sync|arrive)\s+' + REG + r',\s*' + REG + '$'),
     lambda m: 'simt::ptx::named_barrier({}, {}, {})'.format(m.group(2), m.group(3),
                                                            'true' if m.group(1) == 'sync' else 'false')),
    (re.compile(r'setmaxnreg\.(?:inc|dec)\.sync\.aligned\.u32\s+' + REG + '$'),
     lambda m: f'simt::ptx::setmaxnreg({m.group(1)})'),
    (re.compile(r'mma\.sync\.aligned\.m16n8k16\.row\.col\.f32\.(f16|bf16)\.(f16|bf16)\.f32\s+'
                r'\{([^}]*)\},\s*\{([^}]*)\},\s*\{([^}]*)\},\s*\{([^}]*)\}$'),
     lambda m: 'simt::ptx::mma_m16n8k16<{}>({}, {}, {}, {})'.format(
         '__half' if m.group(1) == 'f16' else '__nv_bfloat16', *m.groups()[2:])),
    (re.compile(r'mma\.sync\.aligned\.m16n8k32\.row\.col\.s32\.s8\.s8\.s32\s+'
                r'\{([^}]*)\},\s*\{([^}]*)\},\s*\{([^}]*)\},\s*\{([^}]*)\}$'),
     lambda m: 'simt::ptx::mma_m16n8k32_s8({}, {}, {}, {})'.format(*m.groups())),
]


def translate_instruction(instruction, values):
    for pattern, emit in INSTRUCTIONS:
        m = pattern.match(instruction)
        if m:
            call = emit(m)
            return re.sub(r'%(\d+)', lambda r: f'({values[int(r.group(1))]})', call)
    raise TranslationError(f'no emulation for the PTX instruction "{instruction}" '
                           '(add it to translate.py and ptx.hpp)')


def asm_statement(text, mask, m):
    open_paren = mask.index('(', m.end() - 1)
    close = matching(mask, open_paren, '(', ')')
    end = close + 1
    while end < len(mask) and mask[end] in ' \t':
        end += 1
    if end < len(mask) and mask[end] == ';':
        end += 1
    inner, inner_mask = text[open_paren + 1:close], mask[open_paren + 1:close]
    sections = split_top(inner, inner_mask, ':')
    section_masks = split_top(inner_mask, inner_mask, ':')
    template = ''.join(unescape(s) for s in re.findall(r'"((?:[^"\\]|\\.)*)"', sections[0]))
    values = []
    for k in (1, 2):
        if k < len(sections):
            values += operands(sections[k], section_masks[k])
    calls = [translate_instruction(' '.join(i.split()), values)
             for i in re.split(r'[;\n]', template) if i.strip()]
    return m.start(), end, '{ ' + '; '.join(calls) + '; }'


# ---- __shared__ ----------------------------------------------------------------------------

def shared_declaration(path):
    def handler(text, mask, m):
        end = mask.index(';', m.end())
        declaration = ' '.join(text[m.end():end].split())
        align = '0'
        a = re.match(r'__align__\((\d+)\)\s*', declaration)
        if a:
            align, declaration = a.group(1), declaration[a.end():]
        if m.group(1):  # extern: the dynamic shared memory
            d = re.match(r'(.+?)\s*(\w+)\s*\[\s*\]$', declaration)
            if not d:
                raise TranslationError(f'extern __shared__ not understood: {declaration}')
            kind, name = d.groups()
            return m.start(), end + 1, (f'{kind}* {name} = simt::dynamic_shared<{kind}>('
                                        f'{align if align != "0" else f"alignof({kind})"});')
        bracket = declaration.find('[')
        head = declaration[:bracket] if bracket >= 0 else declaration.split(',')[0]
        name = re.search(r'(\w+)\s*$', head).group(1)
        kind = head[:head.rfind(name)].strip()
        rest = declaration[len(head) - len(name):]
        lines = []
        for declarator in split_top(rest, code_mask(rest), ','):
            d = re.match(r'\s*(\w+)\s*((?:\[[^\]]+\]\s*)*)$', declarator)
            if not d:
                raise TranslationError(f'__shared__ declarator not understood: {declarator}')
            var, dims = d.group(1), d.group(2).replace(' ', '')
            site = f'{os.path.basename(path)}:{line_of(text, m.start())}:{var}'
            lines.append(f'auto& {var} = *simt::static_shared<{kind}{dims}>(__PRETTY_FUNCTION__, '
                         f'"{site}", {align});')
        return m.start(), end + 1, ' '.join(lines)
    return handler


# ---- launches ------------------------------------------------------------------------------

def launch(path):
    return lambda text, mask, m: launch_at(text, mask, m, path)


def launch_at(text, mask, m, path):
    start = m.start()
    i = start
    while i > 0 and mask[i - 1] in ' \t':
        i -= 1
    if mask[i - 1] == '>':  # template arguments
        depth = 0
        while True:
            i -= 1
            depth += {'>': 1, '<': -1}.get(mask[i], 0)
            if depth == 0:
                break
    while i > 0 and (mask[i - 1].isalnum() or mask[i - 1] in '_:'):
        i -= 1
    callee = text[i:start].strip()
    config_end = mask.index('>>>', m.end())
    config = ' '.join(text[m.end():config_end].split())
    open_paren = config_end + 3
    while mask[open_paren] in ' \t\n':
        open_paren += 1
    close = matching(mask, open_paren, '(', ')')
    args = text[open_paren + 1:close].strip()
    name = f"{os.path.basename(path)}:{line_of(text, start)} {re.sub(r'<.*', '', callee)}"
    call = f'simt::launch("{name}", {callee}, simt::Config({config})'
    call += f', {args})' if args else ')'
    return i, close + 1, call


# ---- __launch_bounds__ and casts -----------------------------------------------------------

def launch_bounds(text, mask, m):
    close = matching(mask, m.end() - 1, '(', ')')
    bound = split_top(text[m.end():close], mask[m.end():close], ',')[0].strip()
    params_end = matching(mask, mask.index('(', close + 1), '(', ')')
    body = re.compile(r'[{;]').search(mask, params_end).start()
    # A kernel's definition gets the check; a declaration (ending in ';') just loses the bounds.
    check = f' simt::check_launch_bounds({bound});' if mask[body] == '{' else ''
    return m.start(), body + 1, text[close + 1:body + 1] + check


def pointer_cast(text, mask, m):
    close = matching(mask.replace('>', ')').replace('<', '('), m.end() - 1, '(', ')')
    target = text[m.end():close].strip()
    return (m.start(), m.end() - 1, 'simt::aligned_cast') if target.endswith('*') else None


def translate(text, path, device):
    text = rewrite(text, r'\b(?:asm|__asm__)\s*(?:volatile|__volatile__)?\s*\(', asm_statement)
    # A kernel gets its parameters by value here, so their addresses (a tensor map's) are
    # valid while it runs, as in the GPU's parameter space.
    text = rewrite(text, r'\b__grid_constant__\b', lambda t, mask, m: (m.start(), m.end(), ''))
    # nvcc's keyword; GCC spells the attribute so (a macro named __noinline__ would break it).
    text = rewrite(text, r'\b__noinline__\b', lambda t, mask, m: (m.start(), m.end(), '__attribute__((noinline))'))
    text = rewrite(text, r'\b(extern\s+)?__shared__\b', shared_declaration(path))
    text = rewrite(text, r'<<<', launch(path))
    text = rewrite(text, r'\bcudaLaunchKernelEx\s*\(', lambda t, mask, m: (m.start(), m.end(), 'simt::launch_ex('))
    text = rewrite(text, r'\b__launch_bounds__\s*\(', launch_bounds)
    text = rewrite(text, r'\breinterpret_cast\s*<', pointer_cast)
    head = '#include "simt.hpp"\n'
    if device:
        head += '#define __CUDACC__ 1\n#define __CUDA_ARCH__ 900\n'
    return head + f'#line 1 "{path}"\n' + text


def write_if_changed(path, content):
    if os.path.exists(path):
        with open(path, encoding='utf-8') as f:
            if f.read() == content:
                return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(content)


def main(source_dir, output_dir):
    for folder, _, files in os.walk(source_dir):
        for name in sorted(files):
            source = os.path.join(folder, name)
            relative = os.path.relpath(source, source_dir)
            with open(source, encoding='utf-8') as f:
                text = f.read()
            if name.endswith('.cu') or name.endswith('.cuh'):
                try:
                    text = translate(text, os.path.abspath(source), name.endswith('.cu'))
                except TranslationError as e:
                    sys.exit(f'{source}: {e}')
                if name.endswith('.cu'):
                    relative += '.cpp'
            write_if_changed(os.path.join(output_dir, relative), text)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: translate.py SOURCE_DIR OUTPUT_DIR')
    main(sys.argv[1], sys.argv[2])
