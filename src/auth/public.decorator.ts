import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'auth:public';

/** Marks a route that the global guard lets through without a token. Everything else is denied by default. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
