import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/server';

import { ReferenceAnswers } from '../../src/mcp/tools/reference-answers.js';

const answer = (text: string): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent: { text, nested: { list: [text] } },
});

describe('ReferenceAnswers', () => {
  it('gives back the answer kept for the same tool, language and arguments, and no other', () => {
    const answers = new ReferenceAnswers();
    answers.keep('explain_respcd', 'en', { respcd: '1143' }, answer('one'));
    expect(answers.find('explain_respcd', 'en', { respcd: '1143' })?.content).toEqual([
      { type: 'text', text: 'one' },
    ]);
    expect(answers.find('explain_respcd', 'zh-HK', { respcd: '1143' })).toBeUndefined();
    expect(answers.find('explain_respcd', 'en', { respcd: '1150' })).toBeUndefined();
    expect(answers.find('list_currencies', 'en', { respcd: '1143' })).toBeUndefined();
  });

  it('keeps answers frozen through and through, so no reader can change the next caller’s', () => {
    const answers = new ReferenceAnswers();
    answers.keep('t', 'en', {}, answer('frozen'));
    const kept = answers.find('t', 'en', {})!;
    expect(Object.isFrozen(kept)).toBe(true);
    expect(Object.isFrozen(kept.content[0])).toBe(true);
    const structured = kept.structuredContent as { nested: { list: string[] } };
    expect(() => structured.nested.list.push('more')).toThrow(TypeError);
  });

  it('never keeps an error answer', () => {
    const answers = new ReferenceAnswers();
    answers.keep('t', 'en', {}, { ...answer('failed'), isError: true });
    expect(answers.find('t', 'en', {})).toBeUndefined();
    expect(answers.size).toBe(0);
  });

  it('is bounded: past its capacity the oldest answer leaves first', () => {
    const answers = new ReferenceAnswers(3);
    for (let code = 1; code <= 5; code++) answers.keep('t', 'en', { code }, answer(String(code)));
    expect(answers.size).toBe(3);
    expect(answers.find('t', 'en', { code: 1 })).toBeUndefined();
    expect(answers.find('t', 'en', { code: 2 })).toBeUndefined();
    expect(answers.find('t', 'en', { code: 5 })?.structuredContent).toMatchObject({ text: '5' });
    // Keeping an answer already kept neither evicts another nor replaces the first.
    answers.keep('t', 'en', { code: 5 }, answer('other'));
    expect(answers.size).toBe(3);
    expect(answers.find('t', 'en', { code: 3 })).toBeDefined();
    expect(answers.find('t', 'en', { code: 5 })?.structuredContent).toMatchObject({ text: '5' });
  });

  it('with capacity 0 keeps nothing; a negative or fractional capacity is refused', () => {
    const none = new ReferenceAnswers(0);
    none.keep('t', 'en', {}, answer('x'));
    expect(none.find('t', 'en', {})).toBeUndefined();
    expect(() => new ReferenceAnswers(-1)).toThrow(/capacity must be a whole number/);
    expect(() => new ReferenceAnswers(1.5)).toThrow(/capacity must be a whole number/);
  });
});
