import type { ImageId } from '../ids';
import type { Principal } from '../auth/principal';
import type { ImageFormat } from './events';

/** The caller, as inference received it: both the verified principal and the token it came with. */
export interface Caller {
  principal: Principal;
  accessToken: string;
}

export interface DescribedImage {
  imageId: ImageId;
  sha256: string;
  format: ImageFormat;
}

export interface SourcedImage extends DescribedImage {
  bytes: Buffer;
}

/**
 * How inference reads an image: always on behalf of the caller, so the images service alone decides
 * ownership. Null means "not found" (unknown, deleted, or someone else's: they are the same).
 */
export interface ImageSource {
  /** What the image is, without its bytes: enough to look up a cached prediction. */
  describe(caller: Caller, id: ImageId): Promise<DescribedImage | null>;
  read(caller: Caller, id: ImageId): Promise<SourcedImage | null>;
}
