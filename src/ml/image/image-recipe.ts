/** The classifier's preprocessing, stored in its bundle. */
export interface ImageRecipe {
  height: number;
  width: number;
  channels: number;
  /** Pixels are divided by this (the largest training pixel value) before the network sees them. */
  pixelScale: number;
  classNames: string[];
  architecture: 'dense' | 'conv';
}

export function pixelsPerImage(recipe: Pick<ImageRecipe, 'height' | 'width' | 'channels'>): number {
  return recipe.height * recipe.width * recipe.channels;
}
