System.Console.WriteLine("peftsharp");
