import { sanitizeFilename } from '@capcheck/images';

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
