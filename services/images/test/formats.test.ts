import { detectFormat, sanitizeFilename } from '@capcheck/images';

describe('sanitizeFilename', () => {
  test.each([
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\x\\photo.jpg', 'photo.jpg'],
    ['ph\u0000o\u0007to\r\n.jpg', 'photo.jpg'],
    ['evil\u202egpj.exe', 'evilgpj.exe'],
    ['...hidden.jpg', 'hidden.jpg'],
    ['', 'upload'],
    [undefined, 'upload'],
    ['/', 'upload'],
    ['e\u0301.png', 'é.png'],
  ])('%j → %j', (raw, clean) => {
    expect(sanitizeFilename(raw)).toBe(clean);
  });

  test('bounded length', () => {
    expect(sanitizeFilename('a'.repeat(1000) + '.jpg')).toHaveLength(200);
  });
});

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
