import { detectFormat } from '@capcheck/shared';

describe('detectFormat', () => {
  test.each([
    [[0xff, 0xd8, 0xff, 0xe0], 'jpeg'],
    [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'png'],
    [[...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBP')], 'webp'],
    [[...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WAVE')], null],
    [[...Buffer.from('GIF89a')], null],
    [[0xff, 0xd8], null],
    [[], null],
  ])('%j → %s', (bytes, format) => {
    expect(detectFormat(Buffer.from(bytes))).toBe(format);
  });
});
